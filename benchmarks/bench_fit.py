"""Benchmark of fit and optimize: CV Spearman per surrogate at 30, 60 and 120 runs, and optimize wall time.

Usage:
    python benchmarks/bench_fit.py [RUNS_TABLE] [--sizes 30,60,120] [--folds 5]

RUNS_TABLE is the project's own sweep results (``<workdir>/sweep/runs.parquet``) or any CSV/Parquet runs
table. Without it (or when it is missing) a synthetic runs table from known functions of Dirichlet
weights is generated, and the output says so. Sizes larger than the table are skipped (noted).
Subsets are the first N runs after a fixed shuffle, so every size is drawn from the same table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from automixer.mixing.config import SURROGATE_NAMES, OptimizeConfig  # noqa: E402
from automixer.mixing.runs_table import Runs, parse_runs, read_runs_file, synthetic_runs  # noqa: E402


def load_runs(path: str | None, largest: int) -> Runs:
    """The runs table to benchmark on (synthetic when no path is given or it does not exist)."""
    if path and Path(path).exists():
        print(f"runs table: {path}")
        return read_runs_file(path)
    why = f"{path} not found" if path else "no runs table given"
    print(f"runs table: SYNTHETIC ({why}): {largest} runs from automixer.mixing.runs_table.synthetic_runs(seed=0)")
    return parse_runs(synthetic_runs(largest, seed=0), "synthetic")


def cv_table(runs: Runs, sizes: list[int], folds: int) -> None:
    """Print CV Spearman per surrogate, per target, per swarm size."""
    from automixer.mixing.surrogates import cross_validate, make_surrogate

    order = np.random.default_rng(0).permutation(runs.num_runs)
    usable = [n for n in sizes if n <= runs.num_runs]
    for n in sorted(set(sizes) - set(usable)):
        print(f"size {n}: skipped, the table has {runs.num_runs} runs")
    header = f"{'target':24s} {'surrogate':11s}" + "".join(f"{f'rho@{n}':>9s}" for n in usable) + f"{'fit s':>8s}"
    print(header)
    print("-" * len(header))
    for metric, values in runs.metrics.items():
        cells = {name: [] for name in SURROGATE_NAMES}
        seconds = dict.fromkeys(SURROGATE_NAMES, 0.0)
        for n in usable:
            idx = order[:n][np.isfinite(values[order[:n]])]
            for name in SURROGATE_NAMES:
                started = time.perf_counter()
                res = cross_validate({name: make_surrogate(name)}, runs.X_NC[idx], values[idx], folds)[0]
                seconds[name] += time.perf_counter() - started
                cells[name].append(res.spearman)
        for name in SURROGATE_NAMES:
            row = "".join(f"{v:9.3f}" for v in cells[name])
            print(f"{metric:24s} {name:11s}{row}{seconds[name]:8.1f}")


def optimize_time(runs: Runs, size: int) -> None:
    """Fit on ``size`` runs (default config) and time ``run_optimize`` with the default OptimizeConfig."""
    from automixer.flows.fit import run_fit
    from automixer.flows.optimize import run_optimize

    cfg = OptimizeConfig()
    with tempfile.TemporaryDirectory() as tmp:
        runs_path = Path(tmp) / "runs.parquet"
        sub = Runs(runs.components, runs.X_NC[:size], {k: v[:size] for k, v in runs.metrics.items()}, runs.source,
                   directions=runs.directions)
        import pyarrow.parquet as pq

        pq.write_table(sub.to_table(), runs_path)
        run_fit(None, runs_file=str(runs_path), targets=None, out_dir=f"{tmp}/surr")
        started = time.perf_counter()
        summary = run_optimize(None, surrogate_dir=f"{tmp}/surr", out_file=f"{tmp}/mixture.yaml")
        wall = time.perf_counter() - started
    print(summary)
    print(f"optimize wall time: {wall:.1f} s (solver auto: random {cfg.random_samples} samples, tpe/cmaes/nsga2 "
          f"{cfg.n_trials} trials each, slsqp polish; {size} runs, {len(runs.metrics)} targets)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="?", help="runs table (CSV/Parquet), e.g. runs/demo/sweep/runs.parquet")
    parser.add_argument("--sizes", default="30,60,120")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    warnings.filterwarnings("ignore", message="max-epochs constraint skipped")
    runs = load_runs(args.runs, max(sizes))
    started = time.perf_counter()
    cv_table(runs, sizes, args.folds)
    print(f"CV wall time: {time.perf_counter() - started:.1f} s")
    optimize_time(runs, min(60, runs.num_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
