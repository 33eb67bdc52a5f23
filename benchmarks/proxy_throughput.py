"""Where a proxy's time goes, and what each throughput lever buys (used by bench_proxy.py --throughput).

- ``roofline()``: this machine's matmul rate on one thread (a large fp32 and bf16 ``torch.mm``), measured
  in the same run as the proxies it is compared with;
- ``model_flops_per_token()``: training FLOPs per token of a proxy (6 x the active matmul weights, head
  included, plus attention scores over the mean context);
- ``breakdown()``: shares of one training step (data sampling, forward with the MoE layers apart,
  backward, optimizer step) and of evaluation over a real-cpu-sized set of items;
- ``levers()``: tokens per core-second of each variant of the trainer, interleaved round by round (every
  variant is timed in every round, so load from other work on the machine hits them alike); the median
  is kept.

Times are CPU seconds of this process (``time.process_time``) on one torch thread, i.e. core-seconds.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np
import torch

from proxies.config import ModelConfig, ProxyConfig
from proxies.data import MixtureStream
from proxies.evaluate import EvalItem, EvalSet, Scored, evaluate
from proxies.model import ProxyModel
from proxies.muon import build_optimizer
from proxies.train import train_step


def roofline(n: int = 2048, repeats: int = 3) -> dict[str, float]:
    """GFLOP/s of an n x n x n torch.mm on the current thread count, fp32 and bf16 (best of ``repeats``)."""
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        torch.mm(a, b)
        best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
        out[name] = 2 * n ** 3 / best / 1e9
    return out


def _seconds(fn) -> float:
    """CPU seconds of this process spent in ``fn``: core-seconds, which load from other work on the
    machine does not inflate the way it inflates wall time."""
    started = time.process_time()
    fn()
    return time.process_time() - started


def model_flops_per_token(mc: ModelConfig, vocab_size: int) -> float:
    """Training FLOPs per token: 6 x (active matmul weights + attention score/value MACs per token)."""
    D, F = mc.d_model, mc.expert_hidden
    per_layer = 4 * D * D + D * mc.num_experts + 3 * D * F * (1 + mc.top_k)
    T = mc.seq_len
    attn = 0.0
    for layer in range(mc.n_layers):
        is_global = (layer + 1) % mc.global_every == 0
        ctx = [(t + 1) if is_global else min(t + 1, mc.window) for t in range(T)]
        attn += 2 * D * sum(ctx) / T  # QK^T and AV
    return 6.0 * (mc.n_layers * per_layer + D * vocab_size + attn)


def token_file(path, vocab_size: int, n: int = 2_000_000) -> str:
    np.save(path, np.random.default_rng(0).integers(0, vocab_size, n).astype(np.uint16))
    return str(path)


class Variant:
    """One trainer variant: its own model, optimizer and stream, kept alive across rounds."""

    def __init__(self, name: str, proxy: ProxyConfig, tokens: str, vocab_size: int, seed: int = 0):
        self.name, self.proxy = name, proxy
        torch.manual_seed(seed)
        self.model = ProxyModel(proxy.model, vocab_size)
        self.runner = torch.compile(self.model) if proxy.train.compile else self.model
        self.opt = build_optimizer(self.model, proxy.train)
        self.stream = MixtureStream({"x": (1.0, tokens)}, seq_len=proxy.model.seq_len,
                                    batch_size=proxy.train.batch_size, seed=seed)
        self.step, self.rates = 0, []
        self.warmup_s = _seconds(lambda: self.run(3))

    def run(self, steps: int) -> None:
        tc = dataclasses.replace(self.proxy.train, steps=10 ** 6)
        for _ in range(steps):
            train_step(self.runner, self.stream, self.opt, tc, torch.device("cpu"), self.step)
            self.step += 1

    def timed(self, tokens: int) -> None:
        tc, mc = self.proxy.train, self.proxy.model
        steps = max(1, round(tokens / (tc.batch_size * mc.seq_len)))
        self.rates.append(steps * tc.batch_size * mc.seq_len / _seconds(lambda: self.run(steps)))

    @property
    def tokens_per_s(self) -> float:
        return statistics.median(self.rates)


def levers(variants: dict[str, ProxyConfig], tokens: str, vocab_size: int, *, rounds: int,
           tokens_per_round: int) -> list[Variant]:
    """Tokens/s of every variant, interleaved: round r times each variant once, in a rotated order."""
    built = [Variant(name, proxy, tokens, vocab_size) for name, proxy in variants.items()]
    for r in range(rounds):
        for v in built[r % len(built):] + built[:r % len(built)]:
            v.timed(tokens_per_round)
    return built


def breakdown(proxy: ProxyConfig, tokens: str, vocab_size: int, *, steps: int) -> dict[str, float]:
    """Seconds per step of data sampling, forward (MoE layers apart), backward, optimizer step."""
    torch.manual_seed(0)
    model = ProxyModel(proxy.model, vocab_size)
    opt = build_optimizer(model, proxy.train)
    stream = MixtureStream({"x": (1.0, tokens)}, seq_len=proxy.model.seq_len, batch_size=proxy.train.batch_size, seed=0)
    moe_s = [0.0]
    for moe in model.moe_layers():
        moe.register_forward_pre_hook(lambda *_: moe_s.__setitem__(0, moe_s[0] - time.process_time()))
        moe.register_forward_hook(lambda *_: moe_s.__setitem__(0, moe_s[0] + time.process_time()))
    parts = dict.fromkeys(("data", "forward", "backward", "optimizer"), 0.0)
    for step in range(steps + 2):
        if step == 2:
            parts, moe_s[0] = dict.fromkeys(parts, 0.0), 0.0
        t0 = time.process_time()
        x, y = stream.next_batch()
        t1 = time.process_time()
        _, loss = model(x, y)
        t2 = time.process_time()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.process_time()
        torch.nn.utils.clip_grad_norm_(model.parameters(), proxy.train.grad_clip)
        opt.step()
        model.update_balance_bias()
        t4 = time.process_time()
        for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[key] += dt
    out = {k: v / steps for k, v in parts.items()}
    out["moe_forward"] = moe_s[0] / steps
    return out


def synthetic_eval_sets(sizes: dict[str, int], vocab_size: int, seq_len: int, seed: int = 0) -> list[EvalSet]:
    """Random token items with the real sets' counts (lengths 30 to seq_len + 1 tokens, the last 60% scored)."""
    rng = np.random.default_rng(seed)
    sets = []
    for group, n in sizes.items():
        items = []
        for _ in range(n):
            length = int(rng.integers(30, seq_len + 2))
            ids = tuple(int(i) for i in rng.integers(0, vocab_size, length))
            items.append(EvalItem(Scored(ids, int(length * 0.4), 4 * length)))
        sets.append(EvalSet(group, f"synthetic-{group}", tuple(items)))
    return sets


def eval_seconds(proxy: ProxyConfig, eval_sets: list[EvalSet], vocab_size: int, batch_size: int) -> float:
    model = ProxyModel(proxy.model, vocab_size)
    return _seconds(lambda: evaluate(model, eval_sets, batch_size=batch_size, device="cpu"))


def thread_layout(proxy: ProxyConfig, tokens: str, vocab_size: int, *, rounds: int, steps: int) -> dict[int, dict]:
    """One proxy on 1 and on 2 torch threads, alternating: median tokens per core-second and per wall second."""
    v = Variant("layout", proxy, tokens, vocab_size)
    per_step = proxy.train.batch_size * proxy.model.seq_len
    out: dict[int, list] = {1: [], 2: []}
    before = torch.get_num_threads()
    for _ in range(rounds):
        for threads in out:
            torch.set_num_threads(threads)
            wall, cpu = time.perf_counter(), time.process_time()
            v.run(steps)
            out[threads].append((steps * per_step / (time.process_time() - cpu),
                                 steps * per_step / (time.perf_counter() - wall)))
    torch.set_num_threads(before)
    return {t: {"per_core_s": statistics.median(r[0] for r in rs), "per_wall_s": statistics.median(r[1] for r in rs)}
            for t, rs in out.items()}
