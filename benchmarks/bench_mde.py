"""Benchmark of the MDE estimate (automixer.mixing.mde): candidate mixtures scored per second per metric, one core.

Usage:
    python benchmarks/bench_mde.py                                  # synthetic experts sized like real-cpu.yaml's
    python benchmarks/bench_mde.py --experts runs/real-cpu/experts  # a sweep's stored experts

Synthetic experts: 11 components and the scored tokens of configs/real-cpu.yaml's groups (items cut to the
128-token window): code 20k, math 36k, stem 34k, commonsense 48k tokens (a generous count, so the figure is
a lower bound). Each metric (``<group>_bpb``) is timed alone over ``--mixtures`` Dirichlet mixtures, best of
``--repeats``; the blocked estimate is printed beside the plain one (one matmul, one log, one sum, on 1,000 mixtures
because it holds tokens x mixtures floats at once), which is what the blocking is measured against.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from automixer.mixing.mde import ExpertStore, MDEEstimator, SetIndex, finished_experts, write_expert, write_index  # noqa: E402

PLAIN_MIXTURES = 1000
"""The plain estimate holds tokens x mixtures floats at once: timed on this many mixtures only."""
GROUP_TOKENS = {"code": 20_000, "math": 36_000, "stem": 34_000, "commonsense": 48_000}


def synthetic_experts(root: Path, n_components: int, seed: int) -> list[str]:
    """Experts whose log-probabilities look like a small proxy's (nats per token around 3, long tail)."""
    rng = np.random.default_rng(seed)
    sets = [SetIndex(f"{g}.jsonl", g, f"{i:02d}_{g}", (128,) * (n // 128), (400.0,) * (n // 128))
            for i, (g, n) in enumerate(GROUP_TOKENS.items())]
    write_index(root, sets)
    names = [f"c{i:02d}" for i in range(n_components)]
    for c in names:
        write_expert(root, c, [-rng.gamma(1.5, 2.0, s.num_tokens) for s in sets], {})
    return names


def plain(probs_TE: np.ndarray, lam_EM: np.ndarray) -> np.ndarray:
    return -np.log(probs_TE @ lam_EM.astype(np.float32)).sum(0, dtype=np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experts", type=Path, help="a workdir's experts/ folder (default: synthetic)")
    ap.add_argument("--components", type=int, default=11)
    ap.add_argument("--mixtures", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        root = args.experts or Path(tmp)
        names = finished_experts(root) if args.experts else synthetic_experts(root, args.components, 0)
        est = MDEEstimator(ExpertStore(root, names))
        X = np.random.default_rng(1).dirichlet(np.ones(len(names)), size=args.mixtures)
        print(f"{len(names)} experts, {args.mixtures} mixtures, one thread")
        for group in est.store.groups():
            idx = [i for i, s in enumerate(est.store.sets) if s.group == group]
            tokens = sum(est.set_tokens[i] for i in idx)
            wall, cpu = map(min, zip(*(_timed(lambda: est.estimate(X, [f"{group}_bpb"])) for _ in range(args.repeats))))
            few = X[:PLAIN_MIXTURES].T
            _, base = map(min, zip(*(_timed(lambda: [plain(est.store.probs[i], few) for i in idx])
                                     for _ in range(args.repeats))))
            print(f"{group}_bpb: {tokens:,} scored tokens: {args.mixtures / cpu:,.0f} mixtures per CPU second "
                  f"({args.mixtures / wall:,.0f}/s wall); plain matmul + log: {few.shape[1] / base:,.0f} per CPU s")


def _timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds of one call (CPU time is the fair figure on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


if __name__ == "__main__":
    main()
