"""The proxy trainer on one GPU (run by benchmarks/gpu_check.sh): tokens/s and the fraction of the GPU's roofline.

1. the GPU's own matmul roofline: a large bf16 and fp32 (TF32 off) ``torch.mm``;
2. one proxy of configs/real.yaml's size trained alone (bench_proxy.bench_training): tokens/s, model FLOP
   rate, fraction of the bf16 roofline;
3. a few proxies of that size through the real sweep code (``automixer.flows.sweep.run_sweep`` on a
   demo-like pool with configs/demo.yaml's evaluation sets; several proxies share the GPU by
   ``sweep.gpus_per_proxy``): per run tokens/s, train and eval seconds from the runs table, and the
   swarm's tokens/s over the sweep's wall time.

    .venv/bin/python benchmarks/gpu_check.py --proxies 4 --steps 128
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def gpu_roofline(n: int = 8192) -> dict[str, float]:
    """TFLOP/s of an n^3 torch.mm on the GPU, bf16 and fp32 (TF32 off), best of 5."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    out = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a = torch.randn(n, n, device="cuda", dtype=dtype)
        b = torch.randn(n, n, device="cuda", dtype=dtype)
        torch.mm(a, b)
        best = float("inf")
        for _ in range(5):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            torch.mm(a, b)
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
        out[name] = 2 * n ** 3 / best / 1e12
    return out


def sweep_on_gpu(real, demo, proxies: int, steps: int, device: str = "cuda", batch_size: int = 0):
    """run_sweep with real.yaml's proxy (``steps`` steps) on a demo-like pool; (wall s, runs-table rows)."""
    import pyarrow.parquet as pq
    from bench_proxy import build_demo_pool

    from automixer.config import config_from_dict
    from automixer.flows.sweep import run_sweep
    from automixer.typed_yaml import to_plain

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "work"
        eval_dir = build_demo_pool(workdir, demo.seed)
        data = to_plain(demo)
        data.update(workdir=str(workdir), sources=[], synth={"policy": []}, ray={"num_cpus": proxies + 1})
        data["proxy"] = to_plain(real.proxy)
        data["proxy"]["train"].update(steps=steps, device=device)
        if batch_size:
            data["proxy"]["train"]["batch_size"] = batch_size
        data["sweep"].update(num_proxies=proxies, seed_repeats=0, gpus_per_proxy=min(1.0, 1.0 / proxies))
        for item in data["sweep"]["eval"]:
            item["path"] = str(eval_dir / Path(item["path"]).name)
        started = time.time()
        print(run_sweep(config_from_dict(data)), flush=True)
        wall = time.time() - started
        return wall, pq.read_table(workdir / "sweep" / "runs.parquet").to_pylist()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxies", type=int, default=4, help="proxies in the sweep, sharing the GPU")
    parser.add_argument("--steps", type=int, default=128, help="steps per proxy in the sweep (real.yaml: 512)")
    parser.add_argument("--single-steps", type=int, default=30, help="timed steps of the lone proxy")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="only the sweep part, on CPU with batch 2 (checks the code path without a GPU)")
    args = parser.parse_args(argv)

    import torch
    from bench_proxy import bench_training
    from proxy_throughput import model_flops_per_token

    from automixer.config import load_config

    if args.cpu_smoke:
        real, demo = load_config(REPO / "configs" / "real.yaml"), load_config(REPO / "configs" / "demo.yaml")
        wall, rows = sweep_on_gpu(real, demo, args.proxies, args.steps, device="cpu", batch_size=2)
        print(f"cpu smoke: {wall:.0f} s, " + ", ".join(f"{r['run_id']} {r['status']}" for r in rows))
        return 0 if all(r["status"] == "ok" for r in rows) else 1
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible to torch", file=sys.stderr)
        return 1
    real, demo = load_config(REPO / "configs" / "real.yaml"), load_config(REPO / "configs" / "demo.yaml")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    roof = gpu_roofline()
    print(f"roofline (8192^3 torch.mm): bf16 {roof['bf16']:.0f} TFLOP/s, fp32 {roof['fp32']:.0f} TFLOP/s", flush=True)
    flops = model_flops_per_token(real.proxy.model, 4096)
    single = bench_training(real, args.single_steps, 4096, "cuda")
    rate = single["tokens_per_s"] * flops / 1e12
    print(f"one proxy (configs/real.yaml, {single['params'] / 1e6:.1f}M params, {flops / 1e6:.0f} MFLOP/token): "
          f"{single['tokens_per_s']:,.0f} tokens/s = {rate:.1f} TFLOP/s = {rate / roof['bf16']:.1%} of the bf16 "
          f"roofline; peak {single['peak_mem_mib']:,.0f} MiB", flush=True)
    wall, rows = sweep_on_gpu(real, demo, args.proxies, args.steps)
    for r in rows:
        print(f"  {r['run_id']} {r['status']}: {r['tokens_per_s'] or 0:,.0f} tokens/s, "
              f"train {r['train_s'] or 0:.1f} s, eval {r['eval_s'] or 0:.1f} s", flush=True)
    tokens = sum(r["tokens_seen"] or 0 for r in rows)
    ok = sum(r["status"] == "ok" for r in rows)
    swarm = tokens / wall
    print(f"sweep of {len(rows)} proxies ({ok} ok) sharing the GPU, {args.steps} steps each: {wall:.0f} s wall, "
          f"{swarm:,.0f} tokens/s over the wall time = {swarm * flops / 1e12 / roof['bf16']:.1%} of the bf16 roofline; "
          f"training only (sum of per-run tokens/s): "
          f"{sum(r['tokens_per_s'] or 0 for r in rows) * flops / 1e12 / roof['bf16']:.1%}", flush=True)
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
