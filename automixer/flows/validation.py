"""The proxy-size check of ``optimize --validate``: the ``validation`` block of the mixture YAML.

Proxies are trained with the sweep's recipe on four mixtures (optimized, natural, uniform and the sweep's
best sampled run's mixture), ``optimize.validate_seeds`` seeds each (the config's seed, +1, ...), so the seed
spread is measured, not assumed. The block (a contract, docs/ARCHITECTURE.md):

- ``seeds``: the seeds trained; ``seed_spread``: the standard deviation of one mixture's measured objective
  over its seeds, pooled over the mixtures (lower objective is better).
- ``mixtures.<name>``: ``objective`` (per seed, None where a run failed), ``objective_mean``, ``metrics``
  (metric -> per-seed values), ``status`` (per seed).
- ``optimized``: the optimized mixture's ``predicted_mean`` and ``predicted_std`` (objective units),
  ``measured_mean`` and ``inside_interval`` (measured within predicted +- 2 std).
- ``beats.<name>``: for natural, uniform and best_sampled, ``gain`` (their mean minus the optimized mean)
  and ``beats`` (the gain is larger than the seed spread).
- ``line``: the printed verdict. ``measured`` (name -> mean metrics, mean objective, status),
  ``predicted_objective`` (name -> the surrogates' predicted mean, without the optimizer's uncertainty penalty)
  and ``best_sampled`` (the sweep's best run) are kept for the report.
"""

from __future__ import annotations

import numpy as np

from automixer.mixing.columns import METRIC
from dataplane.errors import StageError

NAMES = ("optimized", "natural", "uniform", "best_sampled")


def validate_mixtures(config, mixture, objective, best_run, best_weights: dict, train, recipe=None) -> dict:
    """Train ``NAMES`` x seeds proxies through ``train`` (flows.sweep.train_mixtures); the validation block.

    best_run: (row, run id, measured objective) of the sweep's best run, or None; best_weights: its mixture.
    """
    mixes = [mixture.weights, mixture.baselines["natural"]["weights"], mixture.baselines["uniform"]["weights"],
             best_weights]
    seeds = [config.seed + i for i in range(config.optimize.validate_seeds)]
    per = {name: {"objective": [], "metrics": {}, "status": []} for name in NAMES}
    for seed in seeds:
        rows = train(config, mixes, tag="validate", seed=seed, recipe=recipe).to_pylist()
        if len(rows) != len(NAMES):
            raise StageError(f"train_mixtures returned {len(rows)} rows for {len(NAMES)} mixtures")
        for name, row in zip(NAMES, rows):
            _add_run(per[name], row, objective)
    predicted = {name: predicted_interval(objective, weights) for name, weights in zip(NAMES, mixes)}
    block = summarize(per, seeds, *predicted["optimized"])
    block["predicted_objective"] = {name: mean for name, (mean, _) in predicted.items()}
    block["best_sampled"] = {"run_id": best_run[1], "objective": best_run[2]} if best_run else None
    return block


def _add_run(acc: dict, row: dict, objective) -> None:
    metrics = {k: row[k] for k in row if k.startswith(METRIC) and row[k] is not None}
    status = row.get("status", "ok")
    ok = status == "ok" and all(m in metrics for m in objective.weights)
    acc["objective"].append(objective.of_measured(metrics) if ok else None)
    acc["status"].append(status)
    for k, v in metrics.items():
        acc["metrics"].setdefault(k, []).append(float(v))


def predicted_interval(objective, weights: dict) -> tuple[float, float]:
    """A mixture's predicted objective: mean and std (0 where no surrogate gives a std)."""
    w = np.array([[weights.get(c, 0.0) for c in objective.sset.components]])
    mean, std = objective.interval(w)
    return float(mean[0]), float(std[0])


def summarize(per: dict, seeds: list[int], pred_mean: float, pred_std: float) -> dict:
    """The block from per-mixture per-seed results (see module docstring)."""
    ok = {n: [v for v in per[n]["objective"] if v is not None] for n in per}
    means = {n: float(np.mean(v)) if v else None for n, v in ok.items()}
    within = [np.var(v, ddof=1) for v in ok.values() if len(v) > 1]
    spread = float(np.sqrt(np.mean(within))) if within else None
    beats = {}
    for other in NAMES[1:]:
        if means["optimized"] is not None and means[other] is not None:
            gain = means[other] - means["optimized"]
            beats[other] = {"gain": gain, "beats": bool(spread is not None and gain > spread)}
    measured = means["optimized"]
    optimized = {"predicted_mean": pred_mean, "predicted_std": pred_std, "measured_mean": measured,
                 "inside_interval": None if measured is None else bool(abs(measured - pred_mean) <= 2 * pred_std)}
    mixtures = {n: {"objective": per[n]["objective"], "objective_mean": means[n], "metrics": per[n]["metrics"],
                    "status": per[n]["status"]} for n in per}
    measured_view = {n: {"metrics": {k: float(np.mean(v)) for k, v in per[n]["metrics"].items()},
                         "objective": means[n], "status": "ok" if ok[n] else per[n]["status"][0]} for n in per}
    block = {"seeds": seeds, "seed_spread": spread, "mixtures": mixtures, "optimized": optimized, "beats": beats,
             "measured": measured_view}
    block["line"] = verdict_line(means, spread, optimized, beats, len(seeds))
    return block


def verdict_line(means: dict, spread, optimized: dict, beats: dict, num_seeds: int) -> str:
    """One line: measured means, the spread, predicted +- std vs measured, and what the optimized mixture beat."""
    def fmt(v):
        return "failed" if v is None else f"{v:+.3f}"

    sp = "n/a" if spread is None else f"{spread:.3f}"
    lost = [o.replace("_", " ") for o, b in beats.items() if not b["beats"]]
    missing = [o.replace("_", " ") for o in NAMES[1:] if o not in beats]
    if missing:
        verdict = f"NOT COMPARED with {', '.join(missing)} (failed runs)"
    elif lost:
        verdict = f"does NOT beat {', '.join(lost)} by more than the seed spread this time"
    else:
        verdict = "beats natural, uniform and best sampled by more than the seed spread"
    inside = optimized["inside_interval"]
    where = "n/a" if inside is None else ("inside" if inside else "OUTSIDE")
    return (f"validation: optimized {fmt(means['optimized'])} vs natural "
            f"{fmt(means['natural'])}, uniform {fmt(means['uniform'])}, best sampled {fmt(means['best_sampled'])} "
            f"(measured objective, mean of {num_seeds} seeds, lower is better; seed spread {sp}); optimized predicted "
            f"{optimized['predicted_mean']:+.3f} +- {optimized['predicted_std']:.3f} vs measured "
            f"{fmt(optimized['measured_mean'])} ({where} +-2 std); optimized {verdict}")
