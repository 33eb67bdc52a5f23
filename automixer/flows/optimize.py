"""``automixer optimize``: surrogates -> the best mixture under the constraints, as mixture YAML, blend file and plots.

With ``--validate`` it trains proxies on the optimized, natural and uniform mixtures with the sweep's recipe
and sets measured against predicted; then, unless ``optimize.scale_up.seeds`` is 0, the transfer check:
larger models on those mixtures and the best sampled one (automixer.flows.scale_up).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import automixer
from automixer.flows.common import plots_dir, stage_or_nothing, utc_now
from automixer.flows.scale_up import check_size, run_scale_up
from automixer.flows.sweep import prepare, train_mixtures
from automixer.flows.validation import validate_mixtures
from automixer.mixing import choice, optimizer
from automixer.mixing.config import OptimizeConfig
from automixer.mixing.mixture import Mixture
from automixer.mixing.runs_table import Runs, read_components
from automixer.mixing.surrogates import SurrogateSet
from automixer.plots import pareto_mask, plot_mixture, plot_pareto
from dataplane.errors import ConfigError
from dataplane.store import ensure_dir


def run_optimize(config, *, surrogate_dir, out_file, validate=False) -> str:
    """Search the best mixture under the constraints; write the mixture YAML, blend file and plots."""
    started = time.time()
    if validate and config is None:
        raise ConfigError("optimize --validate needs a CONFIG (the sweep's recipe trains the proxies)")
    sset = SurrogateSet.load(surrogate_dir)
    opt_cfg = config.optimize if config is not None else OptimizeConfig()
    seed = config.seed if config is not None else 0
    info = _components_info(config, sset)
    runs = sset.fitted_runs()
    X_runs = runs.X_NC[:, [runs.components.index(c) for c in sset.components]]
    out = Path(out_file)
    ensure_dir(out.parent, "optimize --out folder")  # before any work: the YAML, blend file and plots go there
    if config is not None:
        ensure_dir(config.workdir_path, "workdir")  # the catalog and resolved config go there
    with stage_or_nothing(config, "optimize") as detail:
        objective = optimizer.Objective(sset, opt_cfg)
        print(f"optimize: objective {', '.join(f'{m} x {w:.3g}' for m, w in objective.weights.items())} "
              f"({objective.chosen_by['rule']})")
        problem = optimizer.Problem(objective, optimizer.build_constraints(sset.components, opt_cfg, info, X_runs))
        natural = _natural(sset.components, info, X_runs)
        best_run = _best_sampled(objective, runs)
        cv = _cv_radius(objective, runs, X_runs, config, opt_cfg, seed)
        results = choice.choose(problem, opt_cfg, natural, X_runs[best_run[0]] if best_run else natural, seed,
                                cv and cv["radius"])
        for r in results:
            print(f"  {r.solver:8s} objective {r.value:+.4f}{'' if r.feasible else ' (infeasible)'}")
        mixture = _mixture(sset, opt_cfg, info, problem, results, natural, config, surrogate_dir)
        mixture.solver["choice"] = opt_cfg.choice
        if cv:
            mixture.trust_region.update(limit=cv["radius"], cv=cv)
        print(f"optimize: {results[0].solver} won; trust-region distance {mixture.trust_region['distance']:.3f}")
        _optimize_plots(config, out, sset, problem, results, natural)
        if validate:
            recipe = prepare(config)  # once for the validation seeds and the scale-up
            if opt_cfg.scale_up.seeds:  # fail fast on a scale-up too small, before any training
                check_size(config, recipe.vocab_size)
            best = X_runs[best_run[0]] if best_run else natural
            mixture.validation = _validate(config, mixture, objective, best_run, best, recipe)
            print(mixture.validation["line"])
            if opt_cfg.scale_up.seeds:
                mixture.validation["scale_up"] = _scale_up(config, mixture, sset, objective, best, out, recipe)
        mixture.save(out)
        blend = mixture.write_megatron_blend(out.with_suffix(".megatron_blend.txt"))
        detail.update({"solver": results[0].solver, "objective": results[0].value})
    return (
        f"optimize: {results[0].solver} won, objective {results[0].value:+.4f} vs natural "
        f"{mixture.baselines['natural']['objective']:+.4f} in {time.time() - started:.1f} s -> {out} (+ {blend.name})"
    )


def _cv_radius(objective, runs: Runs, X_runs: np.ndarray, config, opt_cfg, seed: int) -> dict | None:
    """For ``optimize.choice: cv_trust_region``: the radius where the surrogates' held-out errors stop being
    calibrated (automixer.mixing.choice.radius_from_runs), on the fit's folds."""
    if opt_cfg.choice != "cv_trust_region":
        return None
    folds = config.fit.cv_folds if config is not None else 5
    cv = choice.radius_from_runs(objective, X_runs, runs.metrics, folds, seed, opt_cfg.calibrated_coverage)
    print(
        f"optimize: cv trust region {cv['radius']:.3f} (L1; {cv['within_2_std']:.0%} of {cv['runs']} held-out "
        f"runs within +-2 std, farthest held out {cv['max_held_out_distance']:.3f})"
    )
    return cv


def _components_info(config, sset: SurrogateSet) -> dict:
    """The workdir's components table (its components must be the surrogates'), else the one fit recorded."""
    info = read_components(config.workdir_path) if config is not None else {}
    if info:
        sset.check_components(list(info), f"{config.workdir_path} (its components table)")
        return info
    return sset.meta.get("components_info") or {}


def _natural(components: list[str], info: dict, X_runs: np.ndarray) -> np.ndarray:
    """Natural weights from the components table, else the mean sampled mixture."""
    w = np.array([float(info.get(c, {}).get("natural_weight") or 0.0) for c in components])
    return w / w.sum() if w.sum() > 0 else X_runs.mean(0)


def _best_sampled(objective, runs: Runs) -> tuple[int, str, float] | None:
    """(row, run id, measured objective) of the best run in the runs table."""
    needed = list(objective.weights)
    values = [objective.of_measured({m: runs.metrics[m][i] for m in needed}) for i in range(runs.num_runs)]
    values = np.where(np.isfinite(values), values, np.inf)
    if not np.isfinite(values).any():
        return None
    i = int(np.argmin(values))
    return i, (runs.run_ids[i] if runs.run_ids else f"row {i}"), float(values[i])


def _predicted(sset, w: np.ndarray) -> dict:
    return {
        m: {"mean": float(mean[0]), "std": None if std is None else float(std[0])}
        for m, (mean, std) in sset.predict(w[None]).items()
    }


def _mixture(sset, opt_cfg, info, problem, results, natural, config, surrogate_dir):
    best = results[0]
    comps = sset.components
    uniform = np.full(len(comps), 1.0 / len(comps))
    baselines = {
        name: {
            "weights": dict(zip(comps, map(float, w))),
            "predicted": _predicted(sset, w),
            "objective": float(problem.objective(w[None])[0]),
            "feasible": bool(problem.violation(w[None])[0] <= 1e-6),
        }
        for name, w in (("natural", natural), ("uniform", uniform))
    }
    weights = dict(zip(comps, map(float, best.weights / best.weights.sum())))
    provenance = {
        "config_hash": config.hash() if config is not None else sset.meta.get("config_hash"),
        "surrogates": str(surrogate_dir),
        "runs": sset.meta.get("runs"),
        "surrogate_cv": {m: {"surrogate": t.surrogate, **t.cv[t.surrogate]} for m, t in sset.targets.items()},
        "version": automixer.__version__,
        "date": utc_now(),
        "notes": problem.constraints.notes,
    }
    return Mixture(
        weights=weights,
        token_budget=opt_cfg.token_budget,
        available_tokens={c: int(info[c]["tokens"]) for c in comps if info.get(c, {}).get("tokens")},
        token_files={c: str(info[c]["token_file"]) for c in comps if info.get(c, {}).get("token_file")},
        shards={c: [dict(s) for s in info.get(c, {}).get("shards") or []] for c in comps},
        predicted=_predicted(sset, best.weights),
        objective={
            "value": best.value,
            "weights": problem.objective.weights,
            "bounds": problem.objective.bounds,
            "metrics": list(problem.objective.weights),
            "chosen_by": problem.objective.chosen_by,
            "higher_is_better": sorted(m for m, t in sset.targets.items() if t.higher_is_better),
            "definition": (
                "sum of weight x z-score of each metric (sign-flipped where higher is better); lower is better"
            ),
        },
        baselines=baselines,
        solver={
            "name": best.solver,
            "results": {r.solver: {"objective": r.value, "feasible": r.feasible} for r in results},
            **{k: v for k, v in best.detail.items() if k != "pareto"},
        },
        trust_region={
            "distance": float(problem.constraints.distance(best.weights[None])[0]),
            "limit": opt_cfg.trust_region,
        },
        provenance=provenance,
    )


def _optimize_plots(config, out: Path, sset, problem, results, natural) -> None:
    plots = plots_dir(config, out.parent)
    best = results[0]
    plot_mixture(sset.components, best.weights, natural, plots / "mixture_vs_natural.png")
    metrics = list(sset.targets)
    if len(metrics) < 2:
        return
    cand = problem.constraints.repair(optimizer.dirichlet_candidates(natural, 2000, np.random.default_rng(0)))
    cand = cand[problem.violation(cand) <= 1e-6]
    scores = sset.normalized(cand, metrics[:2]) if len(cand) else np.zeros((0, 2))
    nsga = next((r for r in results if r.solver == "nsga2" and r.detail.get("pareto")), None)
    front = (
        np.array([p["scores"][:2] for p in nsga.detail["pareto"]])
        if nsga and len(metrics) == 2
        else scores[pareto_mask(scores)]
        if len(scores)
        else sset.normalized(best.weights[None], metrics[:2])
    )
    plot_pareto(metrics[:2], scores, front, sset.normalized(best.weights[None], metrics[:2])[0], plots / "pareto.png")


def _scale_up(config, mixture, sset, objective, best_sampled: np.ndarray, out: Path, recipe) -> dict:
    """The transfer check (automixer.flows.scale_up) on the objective's metrics."""
    mixtures = {
        "optimized": mixture.weights,
        "natural": mixture.baselines["natural"]["weights"],
        "uniform": mixture.baselines["uniform"]["weights"],
        "best_sampled": dict(zip(sset.components, map(float, best_sampled))),
    }
    metrics = {m: sset.targets[m].higher_is_better for m in objective.weights}
    return run_scale_up(config, mixtures, metrics, out.parent, recipe)


def _validate(config, mixture, objective, best_run, best_weights: np.ndarray, recipe=None) -> dict:
    """Train proxies on the optimized, natural, uniform and best sampled mixtures, several seeds each
    (automixer.flows.validation); measured against predicted."""
    best = dict(zip(objective.sset.components, map(float, best_weights)))
    return validate_mixtures(config, mixture, objective, best_run, best, train_mixtures, recipe)
