"""Benchmark of fit and optimize, on a public swarm and on the project's own sweep.

Usage:
    nice -n 19 python benchmarks/bench_fit.py [RUNS_TABLE] [--swarm DIR] [--draws 20] [--sizes 30,60,120]

Public swarm (``--swarm``, default ../shared/swarms/olmix-dclm; ``--swarm none`` skips it), via
automixer.mixing.public_swarm: per group, the mean held-out Spearman over ``--draws`` fixed random draws of 60
and of 30 training runs (the rest held out), for every candidate and for the CV choice (what ``automixer fit``
keeps); calibration of the chosen model's std (share of held-out runs within +-1 and +-2 std); the top pick
(held-out mixture ranked best on the mean of the groups' z-scores, with and without the uncertainty
penalty) in the true top 3; and pool-based active learning (hold out 40, pool 87, start from 15, add 5 per
round by acquisition.propose_indices with power-law or GP believers vs at random; held-out Spearman per group
of each `--al-model`, default the power law and the GP).

RUNS_TABLE is the project's own sweep results (``<workdir>/sweep/runs.parquet``) or any CSV/Parquet runs
table: CV Spearman per surrogate at ``--sizes`` runs (first N after a fixed shuffle) and optimize wall
time. Without it, a synthetic runs table from known functions of Dirichlet weights is used (the output says
so). Everything runs in one process (no parallelism).
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


# --- public swarm ------------------------------------------------------------------------------------
GROUP_NAMES = ("code", "math", "stem", "commonsense")


def load_swarm(folder: Path) -> Runs:
    """The public swarm as a runs table with group metrics (automixer.mixing.public_swarm)."""
    from automixer.mixing.public_swarm import swarm_runs_table

    runs = parse_runs(swarm_runs_table(folder / "dclm_ratios.csv", folder / "dclm_metrics.csv.gz"), str(folder))
    print(f"public swarm: {folder}: {runs.num_runs} runs x {len(runs.components)} components; "
          f"groups {', '.join(GROUP_NAMES)} (bpb, lower is better)")
    return runs


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def draw_figures(runs: Runs, n_train: int, draw: int, candidates: list[str], folds: int) -> dict:
    """One draw: per group, held-out rho of every candidate and of the CV choice, std coverage, and the
    predicted/true objective of the held-out mixtures."""
    from automixer.mixing.surrogates import choose, cross_validate, make_surrogate

    perm = np.random.default_rng(draw).permutation(runs.num_runs)
    train, test = perm[:n_train], perm[n_train:]
    X = runs.X_NC
    out = {"rho": {}, "chosen": {}, "z_within": [], "obj_true": 0.0, "obj_mean": 0.0, "obj_var": 0.0,
           "obj_by": dict.fromkeys(candidates, 0.0)}
    for g in GROUP_NAMES:
        y = runs.metrics[f"metric/{g}_bpb"]
        cands = {name: make_surrogate(name, random_state=draw) for name in candidates}
        best = choose(cross_validate(cands, X[train], y[train], folds, random_state=draw)).surrogate
        center, scale = y[train].mean(), y[train].std()
        for name in candidates:
            fitted = make_surrogate(name, random_state=draw).fit(X[train], y[train])
            mean, std = fitted.predict(X[test], return_std=True)
            out["rho"][name, g] = _spearman(mean, y[test])
            out["obj_by"][name] = out["obj_by"][name] + (mean - center) / scale / len(GROUP_NAMES)
            if name == best:
                out["rho"]["cv choice", g] = out["rho"][name, g]
                out["chosen"][g] = name
                out["z_within"].append(np.abs(mean - y[test]) / np.maximum(std, 1e-12))
                out["obj_mean"] = out["obj_mean"] + (mean - center) / scale / len(GROUP_NAMES)
                out["obj_var"] = out["obj_var"] + (std / scale / len(GROUP_NAMES)) ** 2
        out["obj_true"] = out["obj_true"] + (y[test] - center) / scale / len(GROUP_NAMES)
    return out


def accuracy_figures(runs: Runs, draws: int, candidates: list[str], folds: int, train_sizes: list[int]) -> None:
    """Mean held-out Spearman per group, calibration and top pick, at each training size."""
    for n_train in train_sizes:
        started = time.perf_counter()
        results = []
        for d in range(draws):
            results.append(draw_figures(runs, n_train, d, candidates, folds))
            print(
                f"  draw {d} at {n_train} runs: cv choice "
                + " ".join(f"{g} {results[-1]['rho']['cv choice', g]:.3f}" for g in GROUP_NAMES),
                flush=True,
            )
        print(
            f"\nheld-out Spearman, mean over {draws} draws of {n_train} training runs "
            f"(predicting the other {runs.num_runs - n_train}; CV {folds}-fold grouped):"
        )
        print(f"{'surrogate':12s}" + "".join(f"{g:>13s}" for g in GROUP_NAMES))
        for name in [*candidates, "cv choice"]:
            cells = [np.mean([r["rho"][name, g] for r in results]) for g in GROUP_NAMES]
            spread = [np.std([r["rho"][name, g] for r in results]) for g in GROUP_NAMES]
            print(f"{name:12s}" + "".join(f"{c:8.3f} +-{s:.2f}" for c, s in zip(cells, spread)))
        if draws > 5:
            print(
                "first 5 draws (the issue's 5-draw protocol): "
                + "; ".join(
                    f"{name} "
                    + " / ".join(f"{np.mean([r['rho'][name, g] for r in results[:5]]):.3f}" for g in GROUP_NAMES)
                    for name in ["cv choice", *candidates]
                )
            )
        picks = {g: sorted({r["chosen"][g] for r in results}) for g in GROUP_NAMES}
        print("cv chose: " + "; ".join(f"{g}: {', '.join(v)}" for g, v in picks.items()))
        z = np.concatenate([np.concatenate(r["z_within"]) for r in results])
        print(
            f"calibration at {n_train} runs (chosen model's std, {len(z)} held-out predictions): "
            f"within +-1 std {np.mean(z <= 1):.1%} (ideal 68.3%), within +-2 std {np.mean(z <= 2):.1%} (ideal 95.4%)"
        )
        for penalty in (0.0, 1.0):
            hits = 0
            for r in results:
                pick = int(np.argmin(r["obj_mean"] + penalty * np.sqrt(r["obj_var"])))
                hits += pick in np.argsort(r["obj_true"])[:3]
            print(
                f"top pick at {n_train} runs (uncertainty_penalty {penalty:g}): held-out mixture ranked best on "
                f"the mean z-score is in the true top 3 in {hits} of {draws} draws"
            )
        by_model = {
            name: sum(int(np.argmin(r["obj_by"][name])) in np.argsort(r["obj_true"])[:3] for r in results)
            for name in candidates
        }
        print(
            f"top pick at {n_train} runs with one surrogate for every group (penalty 0), draws in the true top 3: "
            + ", ".join(f"{name} {hits}" for name, hits in by_model.items())
        )
        print(f"({time.perf_counter() - started:.0f} s)")


def top_pick_ceiling(runs: Runs, draws: int, n_train: int = 60, simulations: int = 200) -> None:
    """How often even a perfect surrogate's top pick lands in the true top 3 when each run carries noise: the
    power law fitted on all runs stands in for the noise-free truth, its 10-fold out-of-fold error bounds
    the noise, and the 'observed' objective is truth plus Gaussian noise of a share of that error."""
    from automixer.mixing.surrogates import make_surrogate, out_of_fold

    truth = oof = observed = 0.0
    for g in GROUP_NAMES:
        y = runs.metrics[f"metric/{g}_bpb"]
        center, scale = y.mean(), y.std() * len(GROUP_NAMES)
        truth = truth + (make_surrogate("power_law").fit(runs.X_NC, y).predict(runs.X_NC) - center) / scale
        oof = oof + (out_of_fold(make_surrogate("power_law"), runs.X_NC, y, 10, 0) - center) / scale
        observed = observed + (y - center) / scale
    error = float(np.std(observed - oof))
    tests = [np.random.default_rng(d).permutation(runs.num_runs)[n_train:] for d in range(draws)]
    rng = np.random.default_rng(0)
    cells = []
    for share in (0.25, 0.5, 0.75, 1.0):
        hits = []
        for _ in range(simulations):
            noisy = truth + rng.normal(0.0, share * error, len(truth))
            hits.append(sum(int(np.argmin(truth[t])) in np.argsort(noisy[t])[:3] for t in tests))
        cells.append(
            f"{share:g} x ({share * error:.3f}): {np.mean(hits):.1f} "
            f"(at least 18 in {np.mean(np.array(hits) >= 18):.0%})"
        )
    print(
        f"top-pick ceiling at {n_train} runs: a perfect surrogate of the power law's fit on all {runs.num_runs} runs, "
        f"picks in the true top 3 of {draws} draws when run noise is a share of the law's out-of-fold error of the "
        f"objective ({error:.3f} z; the objective's spread {np.std(observed):.3f}): " + "; ".join(cells)
    )


AL_METHODS = {
    "both": ("both", "power_law"),
    "accuracy": ("accuracy", "power_law"),
    "both gp": ("both", "gp"),
    "random": None,
}
"""Curve name -> (aim, sweep.next_model) of acquisition.propose_indices; random picks at random."""


def _al_split(runs: Runs, rep: int) -> tuple[np.ndarray, np.ndarray]:
    """The active-learning split of repeat ``rep``: 40 held-out runs, the rest the pool."""
    perm = np.random.default_rng(100 + rep).permutation(runs.num_runs)
    return perm[:40], perm[40:]


def _held_out_rhos(runs: Runs, model: str, used, test, seed: int = 0) -> np.ndarray:
    """Held-out Spearman per group of ``model`` trained on the runs ``used``."""
    from automixer.mixing.surrogates import make_surrogate

    rhos = []
    for g in GROUP_NAMES:
        y = runs.metrics[f"metric/{g}_bpb"]
        pred = make_surrogate(model, random_state=seed).fit(runs.X_NC[used], y[used]).predict(runs.X_NC[test])
        rhos.append(_spearman(pred, y[test]))
    return np.array(rhos)


def active_learning(runs: Runs, repeats: int, models: list[str]) -> None:
    """Held-out Spearman per group vs runs used, for proposals (acquisition.propose_indices, each way of
    AL_METHODS) and random picks, scored by each surrogate in ``models``."""
    from automixer.config import config_from_dict

    sizes = list(range(15, 61, 5))
    curves = {(m, model): np.zeros((repeats, len(sizes), len(GROUP_NAMES))) for model in models for m in AL_METHODS}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats):
            test, pool = _al_split(runs, rep)
            for method, how in AL_METHODS.items():
                config = how and config_from_dict({"workdir": tmp, "seed": rep, "sweep": {"next_model": how[1]}})
                used = _pool_picks(runs, pool, sizes, config, how and how[0], np.random.default_rng(200 + rep))
                for s, size in enumerate(sizes):
                    for model in models:
                        curves[method, model][rep, s] = _held_out_rhos(runs, model, used[:size], test, rep)
            print(f"  active learning repeat {rep} done ({time.perf_counter() - started:.0f} s)", flush=True)
    print(
        f"\nactive learning (hold out 40, pool 87, start 15 random, +5 per round; held-out Spearman, mean of "
        f"{repeats} repeats). Proposals by acquisition.propose_indices: 'both' alternates optimum and accuracy "
        "picks (sweep --next, power law believers), 'accuracy' only integrated-variance picks, 'both gp' "
        "sweep --next with sweep.next_model gp:"
    )
    for model in models:
        print(f"scored by {model}:")
        print(f"{'runs':>5s}" + "".join(f"{f'{m[:6]} {g[:6]}':>14s}" for g in GROUP_NAMES for m in AL_METHODS))
        for s, size in enumerate(sizes):
            print(
                f"{size:5d}"
                + "".join(
                    f"{curves[m, model][:, s, j].mean():14.3f}" for j in range(len(GROUP_NAMES)) for m in AL_METHODS
                )
            )
        goal = curves["random", model][:, -1].mean()
        for method in AL_METHODS:
            mean = curves[method, model].mean(axis=(0, 2))
            reach = next((sizes[s] for s in range(len(sizes)) if mean[s] >= goal - 1e-9), None)
            print(
                f"{model} / {method}: mean over groups "
                + " ".join(f"{size}:{m:.3f}" for size, m in zip(sizes, mean))
                + f"; fewest runs reaching random's 60-run mean ({goal:.3f}): {reach or 'not within 60'}"
            )
    print(f"({time.perf_counter() - started:.0f} s)")


def active_learning_bound(runs: Runs, repeats: int) -> None:
    """An upper bound no method can reach: one run at a time, the pool run that most raises the power law's
    held-out Spearman itself (it peeks at the held-out labels), on the splits of ``active_learning``."""

    def held_out_rho(idx, test):
        return _held_out_rhos(runs, "power_law", idx, test).mean()

    sizes = list(range(15, 36, 5))
    curve = np.zeros((repeats, len(sizes)))
    started = time.perf_counter()
    for rep in range(repeats):
        test, pool = _al_split(runs, rep)
        used = list(pool[: sizes[0]])
        curve[rep, 0] = held_out_rho(used, test)
        while len(used) < sizes[-1]:
            rest = [i for i in pool if i not in set(used)]
            gains = [held_out_rho(used + [i], test) for i in rest]
            used.append(rest[int(np.argmax(gains))])
            if len(used) in sizes:
                curve[rep, sizes.index(len(used))] = max(gains)
        print(f"  label-peeking bound, repeat {rep} done ({time.perf_counter() - started:.0f} s)", flush=True)
    print(
        f"active learning upper bound (picks that peek at the held-out labels, power_law, mean over groups of "
        f"{repeats} repeats): " + " ".join(f"{n}:{v:.3f}" for n, v in zip(sizes, curve.mean(0)))
    )


def _pool_picks(runs: Runs, pool: np.ndarray, sizes: list[int], config, aim: str | None, rng) -> list[int]:
    """Runs of the pool in the order they are added: the first 15, then 5 per round by ``aim`` (None: random)."""
    from automixer.mixing.acquisition import propose_indices

    used = list(pool[: sizes[0]])
    for size in sizes[1:]:
        rest = np.array([i for i in pool if i not in set(used)])
        step = size - len(used)
        if aim is None:
            used += list(rng.choice(rest, step, replace=False))
        else:
            sub = Runs(runs.components, runs.X_NC[used], {k: v[used] for k, v in runs.metrics.items()}, "pool")
            used += list(rest[propose_indices(sub, step, config, runs.X_NC[rest], aim=aim)])
    return used


def swarm_benchmarks(
    folder: Path,
    draws: int,
    candidates: list[str],
    folds: int,
    al_repeats: int,
    train_sizes: list[int],
    al_models: list[str],
    al_bound_repeats: int,
) -> None:
    if not folder.exists():
        print(f"public swarm: {folder} not found; skipped")
        return
    runs = load_swarm(folder)
    if draws:
        accuracy_figures(runs, draws, candidates, folds, train_sizes)
        top_pick_ceiling(runs, draws)
    if al_repeats:
        active_learning(runs, al_repeats, al_models)
    if al_bound_repeats:
        active_learning_bound(runs, al_bound_repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="?", help="runs table (CSV/Parquet), e.g. runs/demo/sweep/runs.parquet")
    parser.add_argument("--sizes", default="30,60,120")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--swarm",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "swarms" / "olmix-dclm"),
        help="public swarm folder (mixture + metric CSVs), or 'none'",
    )
    parser.add_argument("--draws", type=int, default=20, help="random draws of the public-swarm figures")
    parser.add_argument(
        "--candidates",
        default="gp,power_law,loglinear,sqrt_linear,ensemble",
        help="surrogates the public-swarm CV chooses among",
    )
    parser.add_argument("--al-repeats", type=int, default=5, help="repeats of the active-learning curves (0 skips)")
    parser.add_argument(
        "--al-model",
        default="power_law,gp",
        help="surrogates whose held-out accuracy the active-learning curves show (comma-separated)",
    )
    parser.add_argument(
        "--al-bound-repeats",
        type=int,
        default=0,
        help="repeats of the label-peeking upper bound of active learning (about 7 min each; 0 skips)",
    )
    parser.add_argument("--train-sizes", default="60,30", help="training runs of the public-swarm draws")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the public-swarm accuracy figures")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    warnings.filterwarnings("ignore", message="max-epochs constraint skipped")
    if args.swarm != "none":
        swarm_benchmarks(
            Path(args.swarm),
            0 if args.no_accuracy else args.draws,
            args.candidates.split(","),
            args.folds,
            args.al_repeats,
            [int(n) for n in args.train_sizes.split(",")],
            args.al_model.split(","),
            args.al_bound_repeats,
        )
        if not args.runs:
            return 0
    runs = load_runs(args.runs, max(sizes))
    started = time.perf_counter()
    cv_table(runs, sizes, args.folds)
    print(f"CV wall time: {time.perf_counter() - started:.1f} s")
    optimize_time(runs, min(60, runs.num_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
