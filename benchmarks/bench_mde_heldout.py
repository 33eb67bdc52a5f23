"""Held-out accuracy of surrogates with and without the MDE estimate (issue 24), from a swept workdir with experts.

Usage:
    nice -n 19 python benchmarks/bench_mde_heldout.py runs/real-cpu [--sizes 10,20,30,45] [--draws 10]

The sampled runs (tags sweep and seed_repeat; seed repeats stay with their mixture) are split once: a fixed
third of the mixtures (``default_rng(0)``) is held out. Per draw (``default_rng(draw)``) and training size,
that many of the other runs are drawn, and per group (``metric/<group>_bpb``) three feature sets are fitted
on them and scored by Spearman rho on the held-out runs:
- weights: the CV choice among ``--candidates`` on the weights (what ``fit.features: weights`` keeps);
- MDE alone: the MDE estimate calibrated to the metric (the ``mde`` candidate; it ranks as the estimate does);
- weights + MDE: the CV choice among the weights candidates, their ``+mde`` variants and ``mde``
  (what ``fit.features: mde`` keeps).
Candidates with at least as many parameters as distinct training mixtures are left out, as ``fit`` does. A
size above the runs left for training uses them all (printed). Also printed: the experts' share of the
sweep's proxy time (sum of ``wall_s``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from automixer.mixing.columns import EXPERT_TAG  # noqa: E402
from automixer.mixing.config import FitConfig  # noqa: E402
from automixer.mixing.mde import EXPERTS  # noqa: E402
from automixer.mixing.runs_table import parse_runs  # noqa: E402
from automixer.mixing.surrogates import (  # noqa: E402
    choose,
    cross_validate,
    make_surrogate,
    mde_candidates,
    mixture_groups,
    underdetermined,
)

GROUPS = ("code", "math", "stem", "commonsense")
FEATURES = ("weights", "MDE alone", "weights + MDE")


def held_out_split(X_NC: np.ndarray, share: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    """(pool, test) run indices: a fixed ``share`` of the distinct mixtures held out, repeats kept together."""
    groups = mixture_groups(X_NC)
    order = np.random.default_rng(0).permutation(groups.max() + 1)
    held = set(order[:round(share * len(order))].tolist())
    test = np.array([i for i, g in enumerate(groups) if g in held])
    return np.setdiff1d(np.arange(len(X_NC)), test), test


def _fitted(cands: dict, X, y, folds: int, seed: int):
    cands = {n: e for n, e in cands.items() if n not in underdetermined(cands, X)} or cands
    best = choose(cross_validate(cands, X, y, folds, random_state=seed)).surrogate
    return cands[best].fit(X, y), best


def draw_rhos(runs, experts: Path, train, test, groups, candidates, folds: int, seed: int) -> dict:
    """(feature set, group) -> held-out rho, and (feature set, group) -> the surrogate kept."""
    X, out, kept = runs.X_NC, {}, {}
    for g in groups:
        y = runs.metrics[f"metric/{g}_bpb"]
        weights = {n: make_surrogate(n, random_state=seed) for n in candidates}
        mde = mde_candidates(candidates, experts, runs.components, f"{g}_bpb", seed)
        for feature, cands in (("weights", weights), ("MDE alone", {"mde": mde["mde"]}),
                               ("weights + MDE", {**weights, **mde})):
            model, kept[feature, g] = _fitted(cands, X[train], y[train], folds, seed)
            out[feature, g] = float(spearmanr(model.predict(X[test]), y[test]).statistic)
    return out, kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--sizes", default="10,20,30,45")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--candidates", default=",".join(FitConfig().candidates))
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    table = pq.read_table(args.workdir / "sweep" / "runs.parquet")
    rows = table.to_pylist()
    expert_s = sum(r["wall_s"] or 0 for r in rows if r["tag"] == EXPERT_TAG)
    total_s = sum(r["wall_s"] or 0 for r in rows)
    print(f"experts: {sum(r['tag'] == EXPERT_TAG for r in rows)} runs, {expert_s:.0f} s of {total_s:.0f} s proxy "
          f"time ({expert_s / max(total_s, 1e-9):.1%} of the sweep)")
    sampled = [i for i, r in enumerate(rows) if r["tag"] in ("sweep", "seed_repeat")]
    runs = parse_runs(table.take(sampled), str(args.workdir))
    groups = [g for g in GROUPS if f"metric/{g}_bpb" in runs.metrics]
    pool, test = held_out_split(runs.X_NC)
    print(f"{runs.num_runs} sampled runs: {len(test)} held out (a fixed third of the mixtures), {len(pool)} to "
          f"train from; groups {', '.join(groups)}; {args.draws} draws")
    candidates = [c for c in args.candidates.split(",") if c]
    experts = args.workdir / EXPERTS
    header = f"{'runs':>5} {'features':<14}" + "".join(f"{g:>13}" for g in groups)
    print(header)
    for size in (int(s) for s in args.sizes.split(",")):
        n = min(size, len(pool))
        if n < size:
            print(f"{size}: only {len(pool)} runs outside the held-out third; using all of them")
        draws = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for d in range(args.draws):
                train = np.random.default_rng(d).choice(pool, n, replace=False)
                draws.append(draw_rhos(runs, experts, train, test, groups, candidates, args.folds, d)[0])
        for feature in FEATURES:
            cells = [np.array([r[feature, g] for r in draws]) for g in groups]
            print(f"{n:>5} {feature:<14}" + "".join(f"{c.mean():>8.3f}+-{c.std():.2f}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
