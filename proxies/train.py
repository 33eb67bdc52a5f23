"""Training one proxy: ``train_proxy(config, components, eval_sets, seed=..., vocab_size=...)``.

Everything random (initial weights, the data stream) derives from ``seed``; torch's global RNG is
forked, not reseeded, so callers keep their own state. On CPU with a fixed thread count two runs with
the same seed give bit-identical weights, checked by the SHA-256 of the final state dict (the same
check the target run's stack uses against silent corruption). On CUDA the forward runs under bf16
autocast; results are close but not bit-identical.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import torch

from proxies.config import ProxyConfig
from proxies.data import MixtureStream
from proxies.evaluate import EvalSet, evaluate
from proxies.model import ProxyModel
from proxies.muon import build_optimizer


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("proxy.train.device is 'cuda' but no CUDA device is visible")
    return torch.device(name)


def lr_factor(step: int, steps: int, warmup_frac: float, min_lr_frac: float) -> float:
    """Linear warm-up, then linear decay to min_lr_frac."""
    warmup = max(1, int(round(warmup_frac * steps)))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 1.0 - (1.0 - min_lr_frac) * progress


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 over the state dict: names, dtypes, shapes and raw bytes, in sorted order."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def uses_bf16(tc, device: torch.device) -> bool:
    """bf16 autocast: always on CUDA, on CPU when ``train.cpu_bf16``."""
    return device.type == "cuda" or tc.cpu_bf16


def train_step(model, stream, opt, tc, device, step: int) -> torch.Tensor:
    """One optimizer step at the schedule's learning rate (bf16 autocast on CUDA); returns the loss."""
    for group in opt.param_groups:
        group["lr"] = group["peak_lr"] * lr_factor(step, tc.steps, tc.warmup_frac, tc.min_lr_frac)
    x_BT, y_BT = stream.next_batch(device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=uses_bf16(tc, device)):
        _, loss = model(x_BT, y_BT)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if tc.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
    opt.step()
    model.update_balance_bias()
    return loss


def _train_loop(model, stream, opt, cfg, device) -> float:
    """Run cfg.train.steps steps; return the mean loss of the last 10% of steps."""
    tc = cfg.train
    tail = []
    for step in range(tc.steps):
        loss = train_step(model, stream, opt, tc, device, step)
        if step >= tc.steps - max(1, tc.steps // 10):
            tail.append(loss.item())
    return sum(tail) / len(tail)


def train_proxy(
    config: ProxyConfig,
    components: dict[str, tuple[float, str]],
    eval_sets: list[EvalSet],
    *,
    seed: int,
    vocab_size: int,
    device: str | None = None,
    out_dir: str | Path | None = None,
) -> dict:
    """Train one proxy on a mixture and score it.

    components: name -> (weight, packed token file). Returns metrics (per group loss, bpb, acc),
    tokens_seen, tokens_per_s, wall_s, train_s, eval_s, weights_sha256, n_params, train_loss. With ``out_dir``, the
    weights are saved as ``model.pt`` with ``config.json`` beside them.
    """
    started = time.time()
    if config.train.num_threads > 0:
        torch.set_num_threads(config.train.num_threads)
    dev = resolve_device(device or config.train.device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ProxyModel(config.model, vocab_size).to(dev)
    stream = MixtureStream(components, seq_len=config.model.seq_len, batch_size=config.train.batch_size, seed=seed)
    opt = build_optimizer(model, config.train)
    train_started = time.time()
    train_loss = _train_loop(torch.compile(model) if config.train.compile else model, stream, opt, config, dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.time() - train_started
    tokens_seen = config.train.steps * config.train.batch_size * config.model.seq_len
    eval_started = time.time()
    metrics = evaluate(model, eval_sets, batch_size=config.train.eval_batch_size, device=dev)
    result = {
        "metrics": metrics,
        "tokens_seen": tokens_seen,
        "tokens_by_component": stream.tokens_by_component,
        "tokens_per_s": tokens_seen / max(train_s, 1e-9),
        "wall_s": time.time() - started,
        "train_s": train_s,
        "eval_s": time.time() - eval_started,
        "weights_sha256": weights_sha256(model),
        "n_params": model.num_params(),
        "train_loss": train_loss,
        "device": str(dev),
    }
    if out_dir is not None:
        save_checkpoint(model, config, result, Path(out_dir), seed=seed, vocab_size=vocab_size)
    return result


def save_checkpoint(model, config: ProxyConfig, result: dict, out_dir: Path, *, seed: int, vocab_size: int) -> None:
    """model.pt plus config.json (recipe, seed, vocab size, metrics, weight hash) beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / "model.pt")
    meta = {"proxy": dataclasses.asdict(config), "seed": seed, "vocab_size": vocab_size, **result}
    (out_dir / "config.json").write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
