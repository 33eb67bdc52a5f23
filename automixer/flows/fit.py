"""``automixer fit``, ``predict`` and ``optimize``: runs table -> surrogates -> mixture YAML and plots.

Outputs of fit (``--out DIR``): surrogates.json + one folder per target, runs.parquet (the runs used),
cv_predictions.csv, fit_config.yaml (and resolved_config.yaml with a CONFIG). Plots go to
``<workdir>/plots`` with a CONFIG, else ``<out>/plots``. Without a CONFIG, defaults are used
(FitConfig, OptimizeConfig) plus whatever the surrogate folder recorded.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

import automixer
from automixer.errors import ConfigError, InputError, StageError
from automixer.fit_config import FitConfig, OptimizeConfig, metric_key
from automixer.runs_table import MIX, Runs, read_components, read_runs_file, read_runs_workdir, read_table_file
from automixer.tables import format_table
from automixer.typed_yaml import to_plain

MIN_RUNS = 4


def _stage(config, name: str):
    if config is None:
        return contextlib.nullcontext({})
    from automixer.stage_run import stage_run

    return stage_run(config, name)


def _plots_dir(config, fallback: Path) -> Path:
    return config.workdir_path / "plots" if config is not None else fallback / "plots"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# --- fit ----------------------------------------------------------------------------------------

def run_fit(config, *, runs_file, targets, out_dir) -> str:
    """CV every candidate surrogate per target, keep the best, save them to ``out_dir``; return a summary."""
    from automixer.surrogates import SurrogateSet

    started = time.time()
    fit_cfg = config.fit if config is not None else FitConfig()
    if runs_file:
        runs = read_runs_file(runs_file)
    elif config is not None:
        runs = read_runs_workdir(config.workdir_path)
    else:
        raise ConfigError("fit needs a CONFIG (runs from its workdir) or --runs FILE")
    names = _targets(runs, targets or fit_cfg.targets)
    seed = config.seed if config is not None else 0
    out = Path(out_dir)
    with _stage(config, "fit") as detail:
        print(f"fit: {runs.num_runs} runs x {len(runs.components)} components from {runs.source}; "
              f"targets {', '.join(names)}; {fit_cfg.cv_folds}-fold CV of {', '.join(fit_cfg.candidates)}")
        hib = {metric_key(m) for m in fit_cfg.higher_is_better}
        fitted, rows, oof = {}, [], {}
        for metric in names:
            fitted[metric], oof[metric] = _fit_target(runs, metric, metric in hib, fit_cfg, seed, rows)
        scores = pa.Table.from_pylist(rows)
        print(format_table(scores.drop_columns(["folds"])))
        meta = _fit_meta(config, fit_cfg, runs)
        SurrogateSet(runs.components, fitted, meta).save(out)
        _write_fit_outputs(config, fit_cfg, runs, scores, oof, fitted, out)
        detail.update({"targets": names, "chosen": {m: t.surrogate for m, t in fitted.items()}})
    chosen = ", ".join(f"{m}={t.surrogate} (rho {t.cv[t.surrogate]['spearman']:.3f})" for m, t in fitted.items())
    return f"fit: {chosen} in {time.time() - started:.1f} s -> {out}"


def _targets(runs: Runs, wanted) -> list[str]:
    names = [metric_key(t) for t in wanted] if wanted else list(runs.metrics)
    unknown = [t for t in names if t not in runs.metrics]
    if unknown:
        raise InputError(f"{runs.source}: no column {unknown[0]}; metric columns are: {', '.join(runs.metrics)}")
    return names


def _fit_target(runs: Runs, metric: str, higher: bool, fit_cfg: FitConfig, seed: int, rows: list):
    from automixer.surrogates import TargetModel, choose, cross_validate, make_surrogate

    y = runs.metrics[metric]
    ok = np.isfinite(y)
    if ok.sum() < MIN_RUNS:
        raise InputError(f"{runs.source}: column {metric} has {int(ok.sum())} values; need at least {MIN_RUNS} runs to fit")
    X, y = runs.X_NC[ok], y[ok]
    cands = {name: make_surrogate(name, random_state=seed) for name in fit_cfg.candidates}
    results = cross_validate(cands, X, y, fit_cfg.cv_folds, random_state=seed)
    best = choose(results)
    for r in results:
        rows.append({"target": metric, "surrogate": r.surrogate, "spearman": round(r.spearman, 4), "r2": round(r.r2, 4),
                     "mae": float(f"{r.mae:.4g}"), "chosen": "*" if r is best else "", "n_runs": int(ok.sum()),
                     "folds": min(fit_cfg.cv_folds, int(ok.sum()))})
    if best.spearman < 0.3:
        warnings.warn(f"no surrogate ranks {metric} well (best CV Spearman {best.spearman:.2f} by {best.surrogate}): "
                      "its values may be mostly noise; leave it out of optimize.objective, or of fit.targets to "
                      "silence this", stacklevel=2)
    model = make_surrogate(best.surrogate, random_state=seed).fit(X, y)
    scale = float(y.std()) or 1.0
    tm = TargetModel(metric, best.surrogate, model, higher, float(y.mean()), scale, {r.surrogate: r.scores() for r in results})
    return tm, (y, best.oof, best.surrogate, best.spearman)


def _fit_meta(config, fit_cfg: FitConfig, runs: Runs) -> dict:
    plain = to_plain(fit_cfg)
    config_hash = config.hash() if config is not None else hashlib.sha256(
        json.dumps(plain, sort_keys=True).encode()).hexdigest()[:12]
    return {"version": automixer.__version__, "created": _now(), "config_hash": config_hash, "fit_config": plain,
            "runs": {"source": runs.source, "num_runs": runs.num_runs},
            "components_info": read_components(config.workdir_path if config is not None else None)}


def _write_fit_outputs(config, fit_cfg, runs: Runs, scores: pa.Table, oof: dict, fitted: dict, out: Path) -> None:
    import pyarrow.csv as pcsv

    from automixer.plots import plot_cv
    from automixer.store import atomic_write_text, write_parquet

    write_parquet(out / "runs.parquet", runs.to_table())
    atomic_write_text(out / "fit_config.yaml", yaml.safe_dump(to_plain(fit_cfg), sort_keys=False))
    rows = [{"target": m, "surrogate": s, "measured": float(a), "predicted": float(b)}
            for m, (y, p, s, _) in oof.items() for a, b in zip(y, p)]
    pcsv.write_csv(pa.Table.from_pylist(rows), out / "cv_predictions.csv")
    plots = _plots_dir(config, out)
    for metric, (y, pred, name, rho) in oof.items():
        plot_cv(metric, name, y, pred, rho, plots / f"cv_{metric.replace('/', '_')}.png")
    if config is not None:
        from automixer.catalog import Catalog
        from automixer.config import save_resolved

        save_resolved(config, out)
        with Catalog(config.workdir_path) as catalog:
            catalog.write_table("surrogate_scores", scores)


# --- predict ------------------------------------------------------------------------------------

def run_predict(surrogate_dir, mixtures_file, out_file) -> str:
    """Add ``pred/<metric>`` (and ``std/<metric>``) columns to a table of ``mix/*`` columns."""
    from automixer.surrogates import SurrogateSet

    sset = SurrogateSet.load(surrogate_dir)
    table = read_table_file(mixtures_file)
    mix_cols = [c for c in table.column_names if c.startswith(MIX)]
    extra = sorted(set(mix_cols) - {MIX + c for c in sset.components})
    missing = [MIX + c for c in sset.components if MIX + c not in mix_cols]
    if extra or missing:
        raise InputError(f"{mixtures_file}: mix/* columns must be exactly {', '.join(MIX + c for c in sset.components)}; "
                         f"unknown: {', '.join(extra) or '-'}; missing: {', '.join(missing) or '-'}")
    X = np.column_stack([np.asarray(table.column(MIX + c).to_numpy(zero_copy_only=False), float) for c in sset.components])
    if not np.isfinite(X).all() or (X < 0).any() or (np.abs(X.sum(1) - 1) > 1e-3).any():
        raise InputError(f"{mixtures_file}: mix/* weights must be >= 0 and sum to 1 in every row")
    for metric, (mean, std) in sset.predict(X / X.sum(1, keepdims=True)).items():
        name = metric[len("metric/"):]
        table = table.append_column(f"pred/{name}", pa.array(mean))
        if std is not None:
            table = table.append_column(f"std/{name}", pa.array(std))
    _write_table(table, Path(out_file))
    return f"predict: {table.num_rows} mixtures x {len(sset.targets)} metrics -> {out_file}"


def _write_table(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        from automixer.store import write_parquet

        write_parquet(path, table)
    elif path.suffix.lower() == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        raise InputError(f"{path}: unknown output type {path.suffix!r}; expected .csv or .parquet")


# --- optimize -----------------------------------------------------------------------------------

def run_optimize(config, *, surrogate_dir, out_file, validate=False) -> str:
    """Search the best mixture under the constraints; write the mixture YAML, blend file and plots."""
    from automixer import optimizer as opt
    from automixer.surrogates import SurrogateSet

    started = time.time()
    if validate and config is None:
        raise ConfigError("optimize --validate needs a CONFIG (the sweep's recipe trains the proxies)")
    sset = SurrogateSet.load(surrogate_dir)
    cfg = config.optimize if config is not None else OptimizeConfig()
    seed = config.seed if config is not None else 0
    info = read_components(config.workdir_path if config is not None else None) or sset.meta.get("components_info", {})
    runs = read_runs_file(Path(surrogate_dir) / "runs.parquet")
    X_runs = runs.X_NC[:, [runs.components.index(c) for c in sset.components]]
    out = Path(out_file)
    with _stage(config, "optimize") as detail:
        objective = opt.Objective(sset, cfg)
        problem = opt.Problem(objective, opt.build_constraints(sset.components, cfg, info, X_runs))
        natural = _natural(sset.components, info, X_runs)
        best_run = _best_sampled(objective, runs)
        results = opt.optimize(problem, cfg, natural, X_runs[best_run[0]] if best_run else natural, seed)
        for r in results:
            print(f"  {r.solver:8s} objective {r.value:+.4f}{'' if r.feasible else ' (infeasible)'}")
        mixture = _mixture(sset, cfg, info, problem, results, natural, config, surrogate_dir)
        print(f"optimize: {results[0].solver} won; trust-region distance {mixture.trust_region['distance']:.3f}")
        _optimize_plots(config, out, sset, problem, results, natural)
        if validate:
            mixture.validation = _validate(config, mixture, objective, best_run)
            print(mixture.validation["line"])
        mixture.save(out)
        blend = mixture.write_megatron_blend(out.with_suffix(".megatron_blend.txt"))
        detail.update({"solver": results[0].solver, "objective": results[0].value})
    return (f"optimize: {results[0].solver} won, objective {results[0].value:+.4f} vs natural "
            f"{mixture.baselines['natural']['objective']:+.4f} in {time.time() - started:.1f} s -> {out} (+ {blend.name})")


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
    return {m: {"mean": float(mean[0]), "std": None if std is None else float(std[0])}
            for m, (mean, std) in sset.predict(w[None]).items()}


def _mixture(sset, cfg, info, problem, results, natural, config, surrogate_dir):
    from automixer.mixture import Mixture

    best = results[0]
    comps = sset.components
    uniform = np.full(len(comps), 1.0 / len(comps))
    baselines = {name: {"weights": dict(zip(comps, map(float, w))), "predicted": _predicted(sset, w),
                        "objective": float(problem.objective(w[None])[0]),
                        "feasible": bool(problem.violation(w[None])[0] <= 1e-6)}
                 for name, w in (("natural", natural), ("uniform", uniform))}
    weights = dict(zip(comps, map(float, best.weights / best.weights.sum())))
    provenance = {"config_hash": config.hash() if config is not None else sset.meta.get("config_hash"),
                  "surrogates": str(surrogate_dir), "runs": sset.meta.get("runs"),
                  "surrogate_cv": {m: {"surrogate": t.surrogate, **t.cv[t.surrogate]} for m, t in sset.targets.items()},
                  "version": automixer.__version__, "date": _now(), "notes": problem.constraints.notes}
    return Mixture(
        weights=weights, token_budget=cfg.token_budget,
        available_tokens={c: int(info[c]["tokens"]) for c in comps if info.get(c, {}).get("tokens")},
        token_files={c: str(info[c]["token_file"]) for c in comps if info.get(c, {}).get("token_file")},
        shards={c: [dict(s) for s in info.get(c, {}).get("shards") or []] for c in comps},
        predicted=_predicted(sset, best.weights),
        objective={"value": best.value, "weights": problem.objective.weights, "bounds": problem.objective.bounds,
                   "definition": "sum of weight x z-score of each metric (sign-flipped where higher is better); lower is better"},
        baselines=baselines,
        solver={"name": best.solver, "results": {r.solver: {"objective": r.value, "feasible": r.feasible} for r in results},
                **{k: v for k, v in best.detail.items() if k != "pareto"}},
        trust_region={"distance": float(problem.constraints.distance(best.weights[None])[0]), "limit": cfg.trust_region},
        provenance=provenance,
    )


def _optimize_plots(config, out: Path, sset, problem, results, natural) -> None:
    from automixer.optimizer import dirichlet_candidates
    from automixer.plots import pareto_mask, plot_mixture, plot_pareto

    plots = _plots_dir(config, out.parent)
    best = results[0]
    plot_mixture(sset.components, best.weights, natural, plots / "mixture_vs_natural.png")
    metrics = list(sset.targets)
    if len(metrics) < 2:
        return
    cand = problem.constraints.repair(dirichlet_candidates(natural, 2000, np.random.default_rng(0)))
    cand = cand[problem.violation(cand) <= 1e-6]
    scores = sset.normalized(cand, metrics[:2]) if len(cand) else np.zeros((0, 2))
    nsga = next((r for r in results if r.solver == "nsga2" and r.detail.get("pareto")), None)
    front = (np.array([p["scores"][:2] for p in nsga.detail["pareto"]]) if nsga and len(metrics) == 2
             else scores[pareto_mask(scores)] if len(scores) else sset.normalized(best.weights[None], metrics[:2]))
    plot_pareto(metrics[:2], scores, front, sset.normalized(best.weights[None], metrics[:2])[0], plots / "pareto.png")


def _validate(config, mixture, objective, best_run) -> dict:
    """Train proxies on the optimized, natural and uniform mixtures; measured vs predicted."""
    try:
        from automixer.flows.sweep import train_mixtures
    except ImportError as exc:
        raise StageError(f"optimize --validate needs automixer.flows.sweep.train_mixtures, which is missing ({exc})") from None
    names = ["optimized", "natural", "uniform"]
    mixes = [mixture.weights] + [mixture.baselines[n]["weights"] for n in names[1:]]
    rows = train_mixtures(config, mixes, tag="validate", seed=config.seed).to_pylist()
    if len(rows) != len(names):
        raise StageError(f"train_mixtures returned {len(rows)} rows for {len(names)} mixtures")
    measured = {}
    for name, row in zip(names, rows):
        metrics = {k: row[k] for k in row if k.startswith("metric/") and row[k] is not None}
        ok = row.get("status", "ok") == "ok" and all(m in metrics for m in objective.weights)
        measured[name] = {"metrics": metrics, "objective": objective.of_measured(metrics) if ok else None,
                          "status": row.get("status", "ok"), "error": row.get("error")}
    pred = {"optimized": mixture.objective["value"]} | {n: mixture.baselines[n]["objective"] for n in names[1:]}
    fmt = lambda v: "failed" if v is None else f"{v:+.3f}"  # noqa: E731
    best = {"run_id": best_run[1], "objective": best_run[2]} if best_run else None
    line = (f"validation: optimized {fmt(measured['optimized']['objective'])} vs natural "
            f"{fmt(measured['natural']['objective'])}, uniform {fmt(measured['uniform']['objective'])}, best sampled "
            f"{fmt(best['objective'] if best else None)} (measured objective, lower is better); optimized predicted "
            f"{pred['optimized']:+.3f} vs measured {fmt(measured['optimized']['objective'])}")
    return {"measured": measured, "predicted_objective": pred, "best_sampled": best, "line": line}
