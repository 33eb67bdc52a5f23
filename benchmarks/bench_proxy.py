"""Proxy benchmark: training tokens/s and peak memory of the demo proxy, and a demo-sized sweep's wall time.

    .venv/bin/python benchmarks/bench_proxy.py                 # CPU here; CUDA (bf16 autocast) when present
    .venv/bin/python benchmarks/bench_proxy.py --skip-sweep --steps 50 --config configs/real.yaml
    .venv/bin/python benchmarks/bench_proxy.py --throughput    # real-cpu proxy: where the time goes, levers

``--throughput`` (one thread, CPU) prints, for configs/real-cpu.yaml's proxy: this machine's matmul
roofline (fp32 and bf16 torch.mm), the share of data sampling, forward (MoE layers apart), backward,
optimizer step, evaluation and process/Ray start-up in one proxy's time, and tokens/s of every trainer
variant (today's trainer first) side by side, interleaved round by round, with the model FLOP rate as a
fraction of the roofline (benchmarks/proxy_throughput.py).

The sweep part builds a demo-like pool in a temporary folder (the demo sources of
``automixer.demo_data``, bucketed by a hash instead of running curation, plus a byte-level BPE
tokenizer) and runs ``run_sweep`` on it with the config's components/sweep/proxy sections.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def bench_training(config, steps: int, vocab_size: int, device: str) -> dict:
    """tokens/s over ``steps`` steps (after 3 warm-up steps) and peak memory."""
    import torch

    from proxies.data import MixtureStream
    from proxies.model import ProxyModel
    from proxies.muon import build_optimizer
    from proxies.train import resolve_device, train_step

    dev = resolve_device(device)
    torch.set_num_threads(max(1, config.proxy.train.num_threads))
    with tempfile.TemporaryDirectory() as tmp:
        import numpy as np

        path = Path(tmp) / "tokens.npy"
        dtype = np.uint16 if vocab_size <= 65536 else np.uint32
        np.save(path, np.random.default_rng(0).integers(0, vocab_size, 2_000_000).astype(dtype))
        tc, mc = config.proxy.train, config.proxy.model
        stream = MixtureStream({"x": (1.0, str(path))}, seq_len=mc.seq_len, batch_size=tc.batch_size, seed=0)
        model = ProxyModel(mc, vocab_size).to(dev)
        opt = build_optimizer(model, tc)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        started = None
        for step in range(steps + 3):
            if step == 3:
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                started = time.time()
            train_step(model, stream, opt, tc, dev, step)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.time() - started
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"device": str(dev), "params": model.num_params(),
            "tokens_per_s": steps * tc.batch_size * mc.seq_len / seconds,
            "peak_mem_mib": peak, "peak_kind": "cuda max allocated" if dev.type == "cuda" else "process peak RSS"}


def build_demo_pool(workdir: Path, seed: int = 0) -> Path:
    """Demo sources as curate-kept shards (bucket by hash), a tokenizer; returns the eval folder."""
    import pyarrow as pa
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from automixer.demo_data import build_demo_data
    from dataplane.schema import conform
    from dataplane.store import StageStore, write_parquet

    sources = workdir.parent / "sources"
    build_demo_data(sources, seed=seed)
    store = StageStore(workdir, "curate")
    texts = []
    inputs = {"stdlib_code": [p.read_text() for p in sorted((sources / "stdlib_code").glob("*.py"))]}
    for name in ("stdlib_docs", "python_reference", "math_problems"):
        inputs[name] = [json.loads(line)["text"] for line in (sources / f"{name}.jsonl").read_text().splitlines()]
    for name, docs in inputs.items():
        rows = [{"source": name, "domain": "x", "text": t, "bucket": int(hashlib.sha1(t.encode()).hexdigest(), 16) % 3}
                for t in docs]
        texts += docs
        path = write_parquet(store.shard_path("kept", name), conform(pa.Table.from_pylist(rows)))
        store.mark_done(name, {"kept": [path]}, {})
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4096, min_frequency=2, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((t[:20000] for t in texts), trainer=trainer)
    tok.save(str(workdir / "tokenizer.json"))
    return sources / "eval"


def bench_sweep(config) -> tuple[float, str]:
    """Wall time of run_sweep over a demo-like pool with the config's sweep and proxy sections."""
    from automixer.config import config_from_dict
    from automixer.flows.sweep import run_sweep
    from automixer.typed_yaml import to_plain

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "work"
        eval_dir = build_demo_pool(workdir, config.seed)
        data = to_plain(config)
        data.update(workdir=str(workdir), sources=[], synth={"policy": []})
        for item in data["sweep"]["eval"]:
            item["path"] = str(eval_dir / Path(item["path"]).name)
        cfg = config_from_dict(data)
        started = time.time()
        summary = run_sweep(cfg)
        return time.time() - started, summary


TODAY = {"model": {"moe_dispatch": "loop", "loss_chunk": 0}, "train": {}}
"""The trainer before issue 23: a nonzero + index_add per expert, full logits + F.cross_entropy."""

VARIANTS = {
    "today's trainer (loop dispatch, plain loss)": TODAY,
    "fused head + loss": {"model": {"moe_dispatch": "loop"}, "train": {}},
    "sorted MoE dispatch": {"model": {"loss_chunk": 0}, "train": {}},
    "dense MoE dispatch": {"model": {"moe_dispatch": "dense", "loss_chunk": 0}, "train": {}},
    "fused + sorted (default)": {"model": {}, "train": {}},
    "fused + sorted + bf16 autocast": {"model": {}, "train": {"cpu_bf16": True}},
    "fused + sorted + bf16 head + loss only": {"model": {"head_bf16": True}, "train": {}},
    "fused + sorted, batch 32 (2x tokens per op)": {"model": {}, "train": {"batch_size": 32}},
    "fused + sorted, batch 64 (4x tokens per op)": {"model": {}, "train": {"batch_size": 64}},
}


def _variant(proxy, change: dict):
    return dataclasses.replace(proxy, model=dataclasses.replace(proxy.model, **change["model"]),
                               train=dataclasses.replace(proxy.train, **change["train"]))


def startup_seconds(config) -> dict:
    """A fresh interpreter importing the trainer, and Ray start-up plus a first task that imports it."""
    import subprocess

    from automixer.runtime import init_ray

    started = time.time()
    subprocess.run([sys.executable, "-c", "import proxies.train"], check=True, cwd=REPO)
    imports = time.time() - started
    started = time.time()
    ray = init_ray(config.ray)
    ray.get(ray.remote(_import_trainer).remote())
    return {"import": imports, "ray": time.time() - started}


def _import_trainer() -> bool:
    import proxies.train  # noqa: F401

    return True


def bench_throughput(args) -> None:
    """The --throughput report (see the module docstring)."""
    import proxy_throughput as pt
    import torch

    from automixer.config import load_config

    torch.set_num_threads(1)
    config = load_config(REPO / "configs" / "real-cpu.yaml")
    proxy, vocab = config.proxy, args.vocab_size
    roof = pt.roofline()
    flops = pt.model_flops_per_token(proxy.model, vocab)
    print(f"real-cpu proxy: {flops / 1e6:.2f} MFLOP per training token; roofline (one thread, 2048^3 torch.mm): "
          f"fp32 {roof['fp32']:.1f} GFLOP/s, bf16 {roof['bf16']:.1f} GFLOP/s")
    variants = {name: _variant(proxy, change) for name, change in VARIANTS.items()}
    if args.compile:
        variants["fused + sorted + torch.compile"] = _variant(proxy, {"model": {}, "train": {"compile": True}})
    with tempfile.TemporaryDirectory() as tmp:
        tokens = pt.token_file(Path(tmp) / "tokens.npy", vocab)
        if args.layout:
            for threads, r in pt.thread_layout(proxy, tokens, vocab, rounds=4, steps=8).items():
                print(f"one proxy on {threads} thread(s): {r['per_core_s']:,.0f} tokens per core-second, "
                      f"{r['per_wall_s']:,.0f} per wall second")
        if args.rounds == 0:
            _print_breakdown(pt, proxy, tokens, vocab, args, config)
            return
        built = pt.levers(variants, tokens, vocab, rounds=args.rounds, tokens_per_round=args.round_tokens)
        base = built[0].tokens_per_s
        print(f"trainer variants, {args.rounds} interleaved rounds of ~{args.round_tokens:,} tokens (median):")
        best = max(roof.values())
        for v in built:
            rate = v.tokens_per_s * flops / 1e9
            print(f"  {v.name:<46} {v.tokens_per_s:8,.0f} tok/s  {v.tokens_per_s / base:5.2f}x  "
                  f"{rate:5.1f} GFLOP/s = {rate / roof['fp32']:4.0%} of fp32, {rate / best:4.0%} of the best roofline"
                  f"  (rounds {', '.join(f'{r:,.0f}' for r in v.rates)}; first 3 steps {v.warmup_s:.1f} s)")
        _print_breakdown(pt, proxy, tokens, vocab, args, config)


def _print_breakdown(pt, proxy, tokens: str, vocab: int, args, config) -> None:
    sizes = {"code": 163, "math": 298, "stem": 997, "commonsense": 2400}  # real-cpu's items after decontamination
    part = {g: max(1, round(n * args.eval_fraction)) for g, n in sizes.items()}
    eval_sets = pt.synthetic_eval_sets(part, vocab, proxy.model.seq_len)
    start = startup_seconds(config) if args.startup else None
    for name, change in (("today's trainer", TODAY), ("default trainer", {"model": {}, "train": {}})):
        p = _variant(proxy, change)
        step = pt.breakdown(p, tokens, vocab, steps=args.breakdown_steps)
        eval_s = pt.eval_seconds(p, eval_sets, vocab, proxy.train.eval_batch_size) / args.eval_fraction
        parts = {"data sampling": step["data"], "forward (MoE layers)": step["moe_forward"],
                 "forward (rest)": step["forward"] - step["moe_forward"], "backward": step["backward"],
                 "optimizer step": step["optimizer"]}
        per_proxy = {k: v * p.train.steps for k, v in parts.items()}
        per_proxy["evaluation (3,858 items)"] = eval_s
        if start:  # a Ray worker is started once and trains 33 of the 66 proxies
            per_proxy["process + Ray start-up (/33)"] = (start["import"] + start["ray"]) / 33
        total = sum(per_proxy.values())
        print(f"where one proxy's time goes, {name} ({p.train.steps} steps; {total:.1f} s): "
              + ", ".join(f"{k} {v / total:.0%} ({v:.1f} s)" for k, v in per_proxy.items()))
    p = _variant(proxy, {"model": {}, "train": {}})
    sizes = {bs: pt.eval_seconds(p, eval_sets, vocab, bs) / args.eval_fraction for bs in (16, 64, 256)}
    print("evaluation of the 3,858 items by eval_batch_size: "
          + ", ".join(f"{bs}: {s:.1f} s" for bs, s in sizes.items())
          + f"; a quarter of the items (README's item-count table): {sizes[64] / 4:.1f} s at 64")
    if start:
        print(f"  start-up: fresh interpreter importing the trainer {start['import']:.1f} s, "
              f"Ray start + first task {start['ray']:.1f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "demo.yaml"))
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--throughput", action="store_true", help="the real-cpu proxy: time shares, roofline, levers")
    parser.add_argument("--rounds", type=int, default=5,
                        help="--throughput: interleaved rounds per variant (0: only where the time goes)")
    parser.add_argument("--round-tokens", type=int, default=16384, help="--throughput: tokens per variant per round")
    parser.add_argument("--breakdown-steps", type=int, default=8)
    parser.add_argument("--eval-fraction", type=float, default=0.25, help="share of the eval items timed (scaled up)")
    parser.add_argument("--compile", action="store_true", help="--throughput: also time torch.compile")
    parser.add_argument("--layout", action="store_true", help="--throughput: also one proxy on 1 vs 2 threads")
    parser.add_argument("--no-startup", dest="startup", action="store_false", help="skip the Ray start-up timing")
    args = parser.parse_args(argv)
    if args.throughput:
        bench_throughput(args)
        return 0

    from automixer.config import load_config

    config = load_config(args.config)
    r = bench_training(config, args.steps, args.vocab_size, args.device)
    print(f"proxy ({args.config}): {r['params'] / 1e6:.2f}M params on {r['device']}, "
          f"{dataclasses.asdict(config.proxy.model)['seq_len']} tokens x {config.proxy.train.batch_size} per step, "
          f"optimizer {config.proxy.train.optimizer}")
    print(f"  training: {r['tokens_per_s']:,.0f} tokens/s, peak memory {r['peak_mem_mib']:,.0f} MiB ({r['peak_kind']})")
    if not args.skip_sweep:
        from automixer.runtime import init_ray

        init_ray(config.ray)
        seconds, summary = bench_sweep(config)
        print(f"  demo-sized sweep: {seconds:.0f} s wall ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
