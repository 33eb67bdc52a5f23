"""Benchmark of the choice methods (automixer.mixing.choice) on the public Olmix swarm.

Usage:
    nice -n 19 python benchmarks/bench_choice.py [--swarm DIR] [--draws 20] [--n-train 60]

Per draw (the draws of bench_fit.py: ``default_rng(draw).permutation``, first ``--n-train`` runs to fit,
the other 67 held out), per group the surrogate the CV chooses among ``--candidates`` is fitted on the
training runs; the objective is the mean over groups of the bpb z-scores (training runs' mean and sd),
lower is better. Every method then picks among the held-out mixtures, from the same predictions: its
choice's true rank among them (1 = best measured), whether the measured objective lies within the
predicted mean +- 2 std, and the choice's L1 distance to the nearest training mixture. Methods that
average mixtures (top_k, kl_natural) answer a mixture no run measured: the held-out mixture nearest to it
(L1) stands in for it. ``natural`` is the mean training mixture (the swarm was drawn around the prior).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fit import GROUP_NAMES, load_swarm  # noqa: E402

from automixer.mixing import choice  # noqa: E402
from automixer.mixing.config import OptimizeConfig  # noqa: E402

METHODS = {
    "trust_region (today: 0.5, penalty 1)": ("trust_region", {}),
    "trust_region, mean only": ("trust_region", {"uncertainty_penalty": 0.0}),
    "no trust region, mean only": ("trust_region", {"uncertainty_penalty": 0.0, "trust_region": 2.0}),
    "top_k k=3": ("top_k", {"top_k": 3}),
    "top_k k=5": ("top_k", {"top_k": 5}),
    "top_k k=10": ("top_k", {"top_k": 10}),
    "kl_natural 0.05, near 0.1": ("kl_natural", {"kl_strength": 0.05, "near_best": 0.1}),
    "kl_natural 0.2, near 0.1": ("kl_natural", {"kl_strength": 0.2, "near_best": 0.1}),
    "kl_natural 0.2, near 0.05": ("kl_natural", {"kl_strength": 0.2, "near_best": 0.05}),
    "kl_natural 0.5, near 0.1": ("kl_natural", {"kl_strength": 0.5, "near_best": 0.1}),
    "cv_trust_region cov 0.8, penalty 1": ("cv_trust_region", {"calibrated_coverage": 0.8}),
    "cv_trust_region cov 0.9, penalty 1": ("cv_trust_region", {"calibrated_coverage": 0.9}),
    "cv_trust_region cov 0.8, mean only": ("cv_trust_region", {"calibrated_coverage": 0.8, "uncertainty_penalty": 0.0}),
}
"""Row label -> (choice, OptimizeConfig overrides)."""


def fit_draw(runs, draw: int, n_train: int, candidates: list[str], folds: int) -> dict:
    """Fit the CV choice per group on the draw's training runs; predictions for the held-out runs."""
    from automixer.mixing.surrogates import choose, cross_validate, make_surrogate

    perm = np.random.default_rng(draw).permutation(runs.num_runs)
    train, test = perm[:n_train], perm[n_train:]
    X = runs.X_NC
    weights = {g: 1.0 / len(GROUP_NAMES) for g in GROUP_NAMES}
    Y = {g: runs.metrics[f"metric/{g}_bpb"] for g in GROUP_NAMES}
    scales = {g: (float(Y[g][train].mean()), float(Y[g][train].std())) for g in GROUP_NAMES}
    models, mean, var, true = {}, 0.0, 0.0, 0.0
    for g in GROUP_NAMES:
        cands = {name: make_surrogate(name, random_state=draw) for name in candidates}
        best = choose(cross_validate(cands, X[train], Y[g][train], folds, random_state=draw)).surrogate
        models[g] = make_surrogate(best, random_state=draw)
        mu, sd = models[g].fit(X[train], Y[g][train]).predict(X[test], return_std=True)
        center, scale = scales[g]
        mean = mean + weights[g] * (mu - center) / scale
        var = var + (weights[g] * sd / scale) ** 2
        true = true + weights[g] * (Y[g][test] - center) / scale
    oof = choice.oof_objective(models, X[train], {g: Y[g][train] for g in GROUP_NAMES}, weights, scales, folds, draw)
    scored = choice.Scored(X[test], mean, np.sqrt(var), choice.nearest_distance(X[test], X[train]))
    return {"scored": scored, "true": true, "oof": oof, "natural": X[train].mean(0)}


def judge(fit: dict, label: str) -> dict:
    """True rank, interval hit and distance of one method's pick in one draw."""
    method, overrides = METHODS[label]
    cfg = dataclasses.replace(OptimizeConfig(), **overrides)
    s, true = fit["scored"], fit["true"]
    radius = None
    if method == "cv_trust_region":
        mean, std, measured, dist = fit["oof"]
        radius = choice.cv_radius(np.abs(measured - mean) / np.maximum(std, 1e-12), dist, cfg.calibrated_coverage)
    w = choice.pick(method, s, cfg, fit["natural"], radius)
    i = int(np.argmin(np.abs(s.X_NC - w).sum(1)))
    rank = int((true < true[i]).sum()) + 1
    inside = bool(abs(true[i] - s.mean_N[i]) <= 2 * s.std_N[i])
    return {"rank": rank, "inside": inside, "distance": float(s.distance_N[i]), "radius": radius}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    swarm = Path(__file__).resolve().parents[2] / "shared" / "swarms" / "olmix-dclm"
    parser.add_argument("--swarm", default=str(swarm), help="public swarm folder (mixture + metric CSVs)")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--first-draw", type=int, default=0, help="draw of the first split (to run draws in parts)")
    parser.add_argument("--n-train", type=int, default=60)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--candidates", default="gp,power_law,ensemble", help="surrogates the CV chooses among")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    runs = load_swarm(Path(args.swarm))
    started = time.perf_counter()
    results = {label: [] for label in METHODS}
    for d in range(args.first_draw, args.first_draw + args.draws):
        fit = fit_draw(runs, d, args.n_train, args.candidates.split(","), args.folds)
        for label in METHODS:
            results[label].append(judge(fit, label))
        print(f"  draw {d}: held-out distance median {np.median(fit['scored'].distance_N):.3f}; ranks "
              + " ".join(str(results[label][-1]["rank"]) for label in METHODS) + "; in +-2sd "
              + "".join("1" if results[label][-1]["inside"] else "0" for label in METHODS)
              + f" ({time.perf_counter() - started:.0f} s)", flush=True)
    n_test = runs.num_runs - args.n_train
    print(f"\nchoice among the {n_test} held-out mixtures, fit on {args.n_train} runs, {args.draws} draws "
          f"(true rank: 1 = best measured objective):")
    print(f"{'method':40s} {'mean rank':>9s} {'median':>7s} {'top 3':>6s} {'top 10':>7s} {'in +-2sd':>9s} {'dist':>6s}")
    for label, rows in results.items():
        ranks = np.array([r["rank"] for r in rows])
        radius = [r["radius"] for r in rows if r["radius"] is not None]
        extra = f"  radius median {np.median(radius):.3f}" if radius else ""
        inside, dist = sum(r["inside"] for r in rows), np.median([r["distance"] for r in rows])
        print(f"{label:40s} {ranks.mean():9.1f} {np.median(ranks):7.1f} {(ranks <= 3).sum():6d} "
              f"{(ranks <= 10).sum():7d} {inside:9d} {dist:6.3f}{extra}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
