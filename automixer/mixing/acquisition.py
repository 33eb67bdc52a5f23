"""Which mixtures to train next (``sweep --next K``): half aimed at the optimum, half at surrogate accuracy.

Shape legend: N runs, Q candidates, C components, M metrics.

One model per objective metric is fitted to its z-scores (``sweep.next_model``: the power law, linearised,
or a GP; believers.py). Picks are greedy and alternate between two aims:
- optimum: the lowest lower confidence bound of the objective (``mean - 2 std``, the objective being the
  configured weighted sum of sign-adjusted z-scores);
- accuracy: the largest reduction of posterior variance summed over the candidates (and metrics) that
  training on it would bring (the integrated-variance criterion).
After each pick the models are conditioned on it with its predicted value (the "kriging believer"), so the
next pick's uncertainty already counts it and a batch spreads out.
Candidates are either given (pool-based active learning: pick from these runs) or Dirichlet draws within
the sweep's bounds, kept 0.05 (L1) from runs already trained and 0.1 from each other.
"""

from __future__ import annotations

import numpy as np

from automixer.mixing.believers import BELIEVERS
from automixer.mixing.config import metric_key
from automixer.mixing.mde import EXPERTS, finished_experts, load_estimator, mde_name_for
from automixer.mixing.metrics import group_of, resolve_directions
from automixer.mixing.runs_table import Runs, parse_runs
from automixer.mixing.sampling import project_to_bounds
from dataplane.errors import StageError

LCB_KAPPA = 2.0
NUM_CANDIDATES = 4096
MIN_FROM_RUNS = 0.05
MIN_APART = 0.1
NUM_REFERENCE = 512
AIMS = ("both", "optimum", "accuracy")


def propose_next(
    runs, k: int, config, candidates=None, signal: dict[str, float] | None = None
) -> list[dict[str, float]]:
    """K new mixtures (component -> weight) for ``sweep --next K``; ``candidates`` (a list of mixtures)
    restricts the choice to those; ``signal`` (metric -> the sweep's rank ratio) picks the default objective."""
    parsed = parse_runs(runs, "runs table") if not isinstance(runs, Runs) else runs
    cand_QC = None
    if candidates is not None:
        cand_QC = np.array([[float(m.get(c, 0.0)) for c in parsed.components] for m in candidates])
    picks = propose_indices(parsed, k, config, cand_QC, signal=signal)
    chosen = cand_QC[picks] if cand_QC is not None else _generated(parsed, config)[picks]
    return [{c: round(float(w), 6) for c, w in zip(parsed.components, row)} for row in chosen]


def propose_indices(
    parsed: Runs,
    k: int,
    config,
    cand_QC: np.ndarray | None = None,
    aim: str = "both",
    signal: dict[str, float] | None = None,
) -> list[int]:
    """Indices into ``cand_QC`` (or into the generated candidates) of the K picks, in pick order.

    aim: both (alternate, the optimum first), optimum or accuracy.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if aim not in AIMS:
        raise ValueError(f"unknown aim {aim!r}; expected one of {', '.join(AIMS)}")
    weights = objective_weights(parsed, config, signal)
    higher = resolve_directions(
        weights, config.fit.higher_is_better, parsed.directions, "sweep --next: runs table", config.fit.lower_is_better
    )
    Y_NM = np.column_stack([(-1.0 if higher[m] else 1.0) * _z(parsed.metrics[m]) for m in weights])
    ok = np.isfinite(Y_NM).all(axis=1)
    if ok.sum() < 3:
        raise StageError(f"sweep --next needs at least 3 finished runs with metrics, got {int(ok.sum())}")
    generated = cand_QC is None
    cand = _generated(parsed, config) if generated else np.asarray(cand_QC, dtype=np.float64)
    if len(cand) < k:
        raise ValueError(f"only {len(cand)} candidates for {k} picks")
    believer = BELIEVERS[config.sweep.next_model]
    mde = mde_inputs(parsed, config, list(weights))
    believers = [believer(parsed.X_NC[ok], Y_NM[ok, j], config.seed, mde=mde.get(m)) for j, m in enumerate(weights)]
    w_M = np.array(list(weights.values()))
    ref = cand[np.random.default_rng(config.seed).permutation(len(cand))[:NUM_REFERENCE]]
    allowed = np.ones(len(cand), bool)
    if generated:
        allowed &= np.abs(cand[:, None, :] - parsed.X_NC[None]).sum(2).min(1) >= MIN_FROM_RUNS
    picks: list[int] = []
    while len(picks) < k:
        if not allowed.any():
            raise StageError(
                f"sweep --next: only {len(picks)} of {k} candidates are far enough from the runs "
                "and from each other; ask for fewer"
            )
        mean_MQ, std_MQ = map(np.array, zip(*(b.predict(cand) for b in believers)))
        if aim == "optimum" or (aim == "both" and len(picks) % 2 == 0):
            score = w_M @ mean_MQ - LCB_KAPPA * np.sqrt((w_M[:, None] ** 2 * std_MQ**2).sum(0))
        else:
            score = -sum(b.variance_reduction(cand, ref, std**2) for b, std in zip(believers, std_MQ))
        i = int(np.flatnonzero(allowed)[np.argmin(score[allowed])])
        picks.append(i)
        allowed[i] = False
        if generated:
            allowed &= np.abs(cand - cand[i]).sum(1) >= MIN_APART
        for j, b in enumerate(believers):
            b.add(cand[i], mean_MQ[j, i])
    return picks


def mde_inputs(parsed: Runs, config, metrics: list[str]) -> dict[str, tuple]:
    """metric -> (experts folder, components, MDE estimate) where the GP believer also reads the metric's MDE
    estimate (``sweep.next_model: gp`` with the workdir's experts, unless ``fit.features: weights``); the
    power law reads the weights only."""
    if config.sweep.next_model != "gp" or config.fit.features == "weights":
        return {}
    root = config.workdir_path / EXPERTS
    missing = sorted(set(parsed.components) - set(finished_experts(root)))
    if missing:
        if config.fit.features == "mde":
            raise StageError(f"{root}: fit.features is mde, but component {missing[0]!r} has no finished expert")
        return {}
    names = load_estimator(root, parsed.components).names()
    return {m: (root, parsed.components, est) for m in metrics if (est := mde_name_for(m, names))}


def objective_weights(parsed: Runs, config, signal: dict[str, float] | None = None) -> dict[str, float]:
    """metric -> weight of the objective in ``config.optimize``; without one, one metric per capability
    group, equally weighted (see ``one_per_group``)."""
    opt_cfg = config.optimize
    weights = (
        {metric_key(opt_cfg.target): 1.0}
        if opt_cfg.target
        else {metric_key(m): w for m, w in opt_cfg.objective.items()}
    )
    weights = {m: w for m, w in (weights or one_per_group(parsed.metrics, signal)).items() if m in parsed.metrics}
    if not weights:
        raise StageError(f"sweep --next: no objective metric in the runs table; metrics: {', '.join(parsed.metrics)}")
    return weights


def one_per_group(metrics, signal: dict[str, float] | None) -> dict[str, float]:
    """The default objective before any fit: per group, the metric with the best ``signal`` (the sweep's
    rank ratio), else its first bpb, then loss, metric; equal weights."""
    preference = {"bpb": 2, "loss": 1}

    def rank(m: str) -> tuple[float, int]:
        return (signal or {}).get(m, 0.0), preference.get(m.rsplit("_", 1)[-1], 0)

    best: dict[str, str] = {}
    for m in metrics:
        g = group_of(m)
        if g not in best or rank(m) > rank(best[g]):
            best[g] = m
    return {m: 1.0 / len(best) for m in best.values()}


def _generated(parsed: Runs, config) -> np.ndarray:
    """Dirichlet candidates around the mean sampled mixture, within the sweep's min/max weights."""
    rng = np.random.default_rng(config.seed + 1)
    lo = np.array([config.sweep.min_weight.get(c, 0.0) for c in parsed.components])
    hi = np.array([config.sweep.max_weight.get(c, 1.0) for c in parsed.components])
    center = parsed.X_NC.mean(0)
    c = len(center)
    parts = [rng.dirichlet(np.ones(c), size=NUM_CANDIDATES // 4)]
    for conc in (0.5, 2.0, 8.0):
        parts.append(rng.dirichlet(center * conc * c + 0.05, size=NUM_CANDIDATES // 4))
    return np.array([project_to_bounds(w, lo, hi) for w in np.vstack(parts)])


def _z(values: np.ndarray) -> np.ndarray:
    sd = np.nanstd(values)
    return (values - np.nanmean(values)) / (sd if sd > 0 else 1.0)
