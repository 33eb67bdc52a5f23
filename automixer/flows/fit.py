"""``automixer fit``: runs table -> one CV-chosen surrogate per target, saved to ``--out DIR``.

Outputs: surrogates.json + one folder per target, runs.parquet (the runs used), cv_predictions.csv,
fit_config.yaml (and resolved_config.yaml with a CONFIG). Plots go to ``<workdir>/plots`` with a CONFIG,
else ``<out>/plots``. Without a CONFIG, FitConfig's defaults are used.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import yaml
from sklearn.base import clone

import automixer
from automixer.catalog import Catalog
from automixer.config import save_resolved
from automixer.flows.common import plots_dir, stage_or_nothing, utc_now
from automixer.mixing.config import FitConfig, metric_key
from automixer.mixing.influence import influence_table
from automixer.mixing.mde import EXPERTS, finished_experts, load_estimator, mde_name_for
from automixer.mixing.metrics import resolve_directions
from automixer.mixing.runs_table import Runs, read_components, read_runs_file, read_runs_workdir
from automixer.mixing.surrogates import (
    SurrogateSet,
    TargetModel,
    choose,
    cross_validate,
    make_surrogate,
    mde_candidates,
    underdetermined,
)
from automixer.plots import plot_cv, plot_influence
from automixer.tables import format_table
from automixer.typed_yaml import to_plain
from dataplane.errors import ConfigError, InputError
from dataplane.store import atomic_path, atomic_write_text, ensure_dir, write_parquet

MIN_RUNS = 4


def run_fit(config, *, runs_file, targets, out_dir) -> str:
    """CV every candidate surrogate per target, keep the best, save them to ``out_dir``; return a summary."""
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
    experts = _experts(config, fit_cfg, runs)
    out = ensure_dir(out_dir, "fit --out folder")
    if config is not None:
        ensure_dir(config.workdir_path, "workdir")  # the catalog, plots and resolved config go there
    with stage_or_nothing(config, "fit") as detail:
        print(f"fit: {runs.num_runs} runs x {len(runs.components)} components from {runs.source}; "
              f"targets {', '.join(names)}; {fit_cfg.cv_folds}-fold CV of {', '.join(fit_cfg.candidates)}")
        higher = resolve_directions(names, fit_cfg.higher_is_better, runs.directions, runs.source,
                                    fit_cfg.lower_is_better)
        print("fit: higher is better for " + (", ".join(m for m in names if higher[m]) or "none") + "; lower for "
              + (", ".join(m for m in names if not higher[m]) or "none"))
        runs.directions = {**runs.directions, **higher}  # saved with runs.parquet for optimize
        fitted, rows, oof, left_out = {}, [], {}, {}
        for metric in names:
            fitted[metric], oof[metric] = _fit_target(runs, metric, higher[metric], fit_cfg, seed, rows, left_out,
                                                      experts=experts)
        for note, metrics in left_out.items():
            print(f"fit: left out {note} for {', '.join(metrics) if len(metrics) < len(names) else 'every target'}")
        scores = pa.Table.from_pylist(rows)
        print(format_table(scores.drop_columns(["folds"])))
        meta = _fit_meta(config, fit_cfg, runs)
        if experts is not None:
            meta["experts"] = str(experts)
        sset = SurrogateSet(runs.components, fitted, meta)
        sset.save(out)
        _write_fit_outputs(config, fit_cfg, runs, scores, oof, fitted, out)
        _write_influence(config, sset, runs, meta["components_info"], out)
        detail.update({"targets": names, "chosen": {m: t.surrogate for m, t in fitted.items()}})
    chosen = ", ".join(f"{m}={t.surrogate} (rho {t.cv[t.surrogate]['spearman']:.3f})" for m, t in fitted.items())
    return f"fit: {chosen} in {time.time() - started:.1f} s -> {out}"


def _targets(runs: Runs, wanted) -> list[str]:
    names = [metric_key(t) for t in wanted] if wanted else list(runs.metrics)
    unknown = [t for t in names if t not in runs.metrics]
    if unknown:
        raise InputError(f"{runs.source}: no column {unknown[0]}; metric columns are: {', '.join(runs.metrics)}")
    return names


def _fit_target(runs: Runs, metric: str, higher: bool, fit_cfg: FitConfig, seed: int, rows: list, left_out: dict,
                *, experts: Path | None = None):
    y = runs.metrics[metric]
    ok = np.isfinite(y)
    _warn_infinite(runs, metric, y)
    if ok.sum() < MIN_RUNS:
        raise InputError(
            f"{runs.source}: column {metric} has {int(ok.sum())} values; need at least {MIN_RUNS} runs to fit"
        )
    X, y = runs.X_NC[ok], y[ok]
    cands = {name: make_surrogate(name, random_state=seed) for name in fit_cfg.candidates}
    if experts is not None:
        cands.update(_mde_candidates(metric, fit_cfg, experts, runs.components, seed, left_out))
    cands = _identifiable(metric, cands, X, left_out)
    results = cross_validate(cands, X, y, fit_cfg.cv_folds, random_state=seed)
    best = choose(results)
    for r in results:
        rows.append(
            {
                "target": metric,
                "surrogate": r.surrogate,
                "spearman": round(r.spearman, 4),
                "r2": round(r.r2, 4),
                "mae": float(f"{r.mae:.4g}"),
                "chosen": "*" if r is best else "",
                "n_runs": int(ok.sum()),
                "folds": min(fit_cfg.cv_folds, int(ok.sum())),
            }
        )
    top = max(results, key=lambda r: r.spearman)
    if top.spearman < 0.3:
        warnings.warn(
            f"no surrogate ranks {metric} well (best CV Spearman {top.spearman:.2f} by {top.surrogate}): "
            "its values may be mostly noise, and the default objective leaves it out below "
            "optimize.min_signal; leave it out of fit.targets to silence this",
            stacklevel=2,
        )
    model = clone(cands[best.surrogate]).fit(X, y)
    scale = float(y.std()) or 1.0
    tm = TargetModel(
        metric, best.surrogate, model, higher, float(y.mean()), scale, {r.surrogate: r.scores() for r in results}
    )
    return tm, (y, best.oof, best.surrogate, best.spearman)


def _experts(config, fit_cfg: FitConfig, runs: Runs) -> Path | None:
    """The experts folder when surrogates also read MDE estimates (``fit.features``), else None."""
    if fit_cfg.features == "weights":
        return None
    root = config.workdir_path / EXPERTS if config is not None else None
    have = set(finished_experts(root)) if root is not None else set()
    missing = [c for c in runs.components if c not in have]
    if not missing:
        print(f"fit: MDE features from the experts of {len(have)} components in {root}")
        return root
    if fit_cfg.features == "mde":
        raise InputError(
            f"{root}: fit.features is mde, but component {missing[0]!r} has no finished expert "
            "(automixer sweep trains them); set fit.features: weights to fit on the weights only"
        )
    if have:
        print(f"fit: weights only: no expert for component {missing[0]!r} in {root}")
    return None


def _mde_candidates(
    metric: str, fit_cfg: FitConfig, experts: Path, components: list[str], seed: int, left_out: dict
) -> dict:
    """``<name>+mde`` and ``mde`` candidates on the metric's MDE estimate; none if the experts score no such group."""
    estimate = mde_name_for(metric, load_estimator(experts, components).names())
    if estimate is None:
        left_out.setdefault("MDE candidates (no evaluation set of the experts scores this group)", []).append(metric)
        return {}
    return mde_candidates(fit_cfg.candidates, experts, components, estimate, seed)


def _identifiable(metric: str, cands: dict, X: np.ndarray, left_out: dict) -> dict:
    """The candidates with fewer free parameters than distinct mixtures (all of them, with a warning, if none);
    ``left_out`` collects note -> metrics for the ones dropped."""
    skipped = underdetermined(cands, X)
    if len(skipped) == len(cands):
        warnings.warn(
            f"{metric}: every candidate has too few distinct mixtures to fit its parameters "
            f"({'; '.join(f'{n}: {why}' for n, why in skipped.items())}); CV chooses among them anyway. "
            "Add fit.candidates without a fixed size (gp, linear, loglinear, sqrt_linear, lightgbm)",
            stacklevel=3,
        )
        return cands
    for name, why in skipped.items():
        left_out.setdefault(f"{name} ({why})", []).append(metric)
    return {n: est for n, est in cands.items() if n not in skipped}


def _warn_infinite(runs: Runs, metric: str, y: np.ndarray) -> None:
    """One warning naming how many runs an infinite value of ``metric`` leaves out (missing values go silently)."""
    bad = np.flatnonzero(np.isinf(y))
    if len(bad):
        names = [runs.run_ids[i] if runs.run_ids else f"row {i}" for i in bad[:3]]
        warnings.warn(
            f"{runs.source}: column {metric} is infinite in {len(bad)} of {runs.num_runs} runs "
            f"({', '.join(names)}{', ...' if len(bad) > 3 else ''}); they are left out of its fit. "
            "Write them as empty (missing) values to silence this",
            stacklevel=3,
        )


def _fit_meta(config, fit_cfg: FitConfig, runs: Runs) -> dict:
    """Provenance in surrogates.json: the runs' fingerprint (checked by optimize) and the workdir's components
    table for the components fitted on (optimize falls back to it without a CONFIG)."""
    plain = to_plain(fit_cfg)
    config_hash = (
        config.hash()
        if config is not None
        else hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:12]
    )
    info = read_components(config.workdir_path if config is not None else None)
    return {
        "version": automixer.__version__,
        "created": utc_now(),
        "config_hash": config_hash,
        "fit_config": plain,
        "runs": {"source": runs.source, "num_runs": runs.num_runs, "fingerprint": runs.fingerprint()},
        "components_info": {c: row for c, row in info.items() if c in runs.components},
    }


def _write_influence(config, sset: SurrogateSet, runs: Runs, info: dict, out: Path) -> None:
    """influence.csv (and the catalog table influence) + plots/influence.png; printed as a table."""
    w = np.array([float(info.get(c, {}).get("natural_weight") or 0.0) for c in runs.components])
    natural = w / w.sum() if w.sum() > 0 else runs.X_NC.mean(0)
    table = influence_table(sset, runs.X_NC, natural)
    print("influence (score change per unit weight moved onto the component; + improves the group):")
    print(format_table(table.select(["group", "metric", "component", "effect", "direction", "at_natural"])))
    with atomic_path(out / "influence.csv") as tmp:
        pcsv.write_csv(table, tmp)
    plot_influence(table.to_pylist(), plots_dir(config, out) / "influence.png")
    if config is not None:
        with Catalog(config.workdir_path) as catalog:
            catalog.write_table("influence", table)


def _write_fit_outputs(config, fit_cfg, runs: Runs, scores: pa.Table, oof: dict, fitted: dict, out: Path) -> None:
    write_parquet(out / "runs.parquet", runs.to_table())
    atomic_write_text(out / "fit_config.yaml", yaml.safe_dump(to_plain(fit_cfg), sort_keys=False))
    rows = [
        {"target": m, "surrogate": s, "measured": float(a), "predicted": float(b)}
        for m, (y, p, s, _) in oof.items()
        for a, b in zip(y, p)
    ]
    pcsv.write_csv(pa.Table.from_pylist(rows), out / "cv_predictions.csv")
    plots = plots_dir(config, out)
    for metric, (y, pred, name, rho) in oof.items():
        plot_cv(metric, name, y, pred, rho, plots / f"cv_{metric.replace('/', '_')}.png")
    if config is not None:
        save_resolved(config, out)
        with Catalog(config.workdir_path) as catalog:
            catalog.write_table("surrogate_scores", scores)
