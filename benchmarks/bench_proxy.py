"""Proxy benchmark: training tokens/s and peak memory of the demo proxy, and a demo-sized sweep's wall time.

    .venv/bin/python benchmarks/bench_proxy.py                 # CPU here; CUDA (bf16 autocast) when present
    .venv/bin/python benchmarks/bench_proxy.py --skip-sweep --steps 50 --config configs/real.yaml

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
        np.save(path, np.random.default_rng(0).integers(0, vocab_size, 2_000_000).astype(np.uint16 if vocab_size <= 65536 else np.uint32))
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
    return {"device": str(dev), "params": model.num_params(), "tokens_per_s": steps * tc.batch_size * mc.seq_len / seconds,
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "demo.yaml"))
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args(argv)

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
