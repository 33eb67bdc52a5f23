"""How a mixture is chosen from the surrogates' predictions (``optimize.choice``), so that the choice does
not land where the surrogates are wrong.

Shape legend: N candidate mixtures, C components, R runs. Every method sees the same ``Scored``
candidates (predicted objective mean and std, lower is better; L1 distance to the nearest sampled mixture)
and returns one mixture:

- ``trust_region``: the best mean + ``uncertainty_penalty`` x std within ``trust_region`` of a sampled
  mixture (in the optimize flow: every solver of ``optimize.solver``).
- ``top_k`` (RegMix): the mean of the ``top_k`` candidates with the best predicted mean.
- ``kl_natural`` (Olmix): mean + ``kl_strength`` x KL(w || natural); the mean of the candidates within
  ``near_best`` of the best such score.
- ``cv_trust_region``: ``trust_region`` whose radius comes from cross-validation: the largest distance
  from the training mixtures up to which held-out errors stay inside +-2 predicted std as often as
  ``calibrated_coverage`` asks (``cv_radius``).

The benchmark (benchmarks/bench_choice.py) calls the same ``pick`` on held-out mixtures; the optimize flow
calls ``choose`` on sampled candidates.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from dataplane.errors import ConfigError

CHOICES = ("trust_region", "top_k", "kl_natural", "cv_trust_region")
EPS = 1e-9


@dataclass
class Scored:
    """Candidate mixtures with their predicted objective (lower is better)."""

    X_NC: np.ndarray
    mean_N: np.ndarray
    std_N: np.ndarray
    distance_N: np.ndarray
    """L1 distance of each candidate to the nearest sampled (training) mixture."""


def kl_to(X_NC: np.ndarray, natural: np.ndarray) -> np.ndarray:
    """KL(w || natural) in nats per row (0 log 0 = 0; natural floored so the KL stays finite)."""
    p, q = np.clip(X_NC, 0, None), np.maximum(natural, 1e-6)
    return np.where(p > 0, p * np.log(np.maximum(p, EPS) / q), 0.0).sum(1)


def pick(method: str, s: Scored, cfg, natural: np.ndarray, radius: float | None = None) -> np.ndarray:
    """The chosen mixture (weights over C) of ``method`` among the candidates ``s``.

    cfg: an OptimizeConfig (uncertainty_penalty, trust_region, top_k, kl_strength, near_best); radius: the
    CV radius, needed by ``cv_trust_region``.
    """
    if method in ("trust_region", "cv_trust_region"):
        limit = cfg.trust_region if method == "trust_region" else radius
        if limit is None:
            raise ValueError("cv_trust_region needs the radius from cv_radius")
        score = s.mean_N + cfg.uncertainty_penalty * s.std_N
        inside = s.distance_N <= limit + EPS
        pool = np.flatnonzero(inside) if inside.any() else np.array([int(np.argmin(s.distance_N))])
        return s.X_NC[pool[np.argmin(score[pool])]]
    if method == "top_k":
        top = np.argsort(s.mean_N, kind="stable")[: max(1, cfg.top_k)]
        return s.X_NC[top].mean(0)
    if method == "kl_natural":
        score = s.mean_N + cfg.kl_strength * kl_to(s.X_NC, natural)
        near = score <= score.min() + cfg.near_best
        return s.X_NC[near].mean(0)
    raise ValueError(f"unknown choice {method!r}; expected one of {', '.join(CHOICES)}")


def nearest_distance(X_NC: np.ndarray, anchors_RC: np.ndarray) -> np.ndarray:
    """L1 distance of each row of X to the nearest row of anchors."""
    return np.abs(X_NC[:, None, :] - anchors_RC[None, :, :]).sum(axis=2).min(axis=1)


def oof_objective(models: dict, X_RC: np.ndarray, Y: dict, weights: dict, scales: dict, folds: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold objective over grouped folds: (predicted mean, predicted std, measured, distance to the
    nearest training mixture of the fold), one per run.

    models: metric -> an estimator to clone; Y: metric -> measured values (sign-adjusted so lower is
    better); weights: metric -> objective weight; scales: metric -> (center, scale) of the z-score.
    """
    from automixer.mixing.surrogates import grouped_folds

    n = len(X_RC)
    mean, var, true, dist = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for train, test in grouped_folds(X_RC, folds, seed):
        dist[test] = nearest_distance(X_RC[test], X_RC[train])
        for m, w in weights.items():
            est = clone(models[m]).fit(X_RC[train], Y[m][train])
            mu, sd = est.predict(X_RC[test], return_std=True) if est.provides_std else (est.predict(X_RC[test]), 0.0)
            center, scale = scales[m]
            mean[test] += w * (mu - center) / scale
            var[test] += (w * np.asarray(sd) / scale) ** 2
    for m, w in weights.items():
        true += w * (Y[m] - scales[m][0]) / scales[m][1]
    return mean, np.sqrt(var), true, dist


def cv_radius(z_R: np.ndarray, distance_R: np.ndarray, coverage: float, window: int = 0) -> float:
    """Where held-out errors stop being calibrated. z_R = |error| / predicted std of each held-out run,
    distance_R its L1 distance to its fold's training mixtures. Runs sorted by distance are read in sliding
    windows of ``window`` (0: max(8, R // 4)); the radius is the far end of the last window, from the
    nearest, in which at least ``coverage`` of the errors are within +-2 std. If even the nearest window is
    not calibrated, the nearest held-out distance (the choice then hugs the sampled mixtures)."""
    order = np.argsort(distance_R, kind="stable")
    d, ok = distance_R[order], z_R[order] <= 2.0
    w = min(len(d), window or max(8, len(d) // 4))
    radius = float(d[0])
    for i in range(len(d) - w + 1):
        if ok[i:i + w].mean() < coverage:
            break
        radius = float(d[i + w - 1])
    return radius


def radius_from_runs(objective, X_RC: np.ndarray, metrics: dict[str, np.ndarray], folds: int, seed: int,
                     coverage: float) -> dict:
    """``cv_radius`` of the objective's surrogates, cross-validated on the runs they were fitted on.

    objective: an optimizer.Objective; metrics: runs-table metric -> values per run. Returns the radius with
    what it came from (runs used, the share of held-out errors within +-2 std overall)."""
    targets = objective.sset.targets
    names = list(objective.weights)
    ok = np.all([np.isfinite(metrics[m]) for m in names], axis=0)
    X = X_RC[ok]
    from automixer.mixing.surrogates import mixture_groups

    distinct = int(mixture_groups(X).max()) + 1 if len(X) else 0
    if distinct < 3:
        raise ConfigError(f"optimize.choice: cv_trust_region needs at least 3 distinct sampled mixtures with every "
                          f"objective metric measured, got {distinct}; set optimize.choice: trust_region")
    Y = {m: targets[m].sign * metrics[m][ok] for m in names}
    scales = {m: (targets[m].sign * targets[m].center, targets[m].scale) for m in names}
    models = {m: targets[m].model for m in names}
    mean, std, true, dist = oof_objective(models, X, Y, objective.weights, scales, folds, seed)
    z = np.abs(true - mean) / np.maximum(std, 1e-12)
    return {"radius": cv_radius(z, dist, coverage), "runs": int(ok.sum()), "coverage": coverage,
            "within_2_std": float(np.mean(z <= 2.0)), "max_held_out_distance": float(dist.max())}


def choose(problem, cfg, natural: np.ndarray, start: np.ndarray, seed: int, radius: float | None = None) -> list:
    """Every candidate answer of ``cfg.choice`` as optimizer.SolverResult, the best feasible first.

    problem: an optimizer.Problem; radius: ``radius_from_runs``'s, for cv_trust_region."""
    from automixer.mixing import optimizer

    if cfg.choice in ("trust_region", "cv_trust_region"):
        if cfg.choice == "cv_trust_region":
            if radius is None:
                raise ValueError("cv_trust_region needs the radius from radius_from_runs")
            problem = dataclasses.replace(problem, constraints=dataclasses.replace(problem.constraints,
                                                                                   trust_region=radius))
        return optimizer.optimize(problem, cfg, natural, start, seed)
    # top_k and kl_natural guard against surrogate error themselves: no trust region on their samples.
    free = dataclasses.replace(problem, constraints=dataclasses.replace(problem.constraints, trust_region=2.0))
    X = free.constraints.repair(optimizer.dirichlet_candidates(natural, cfg.random_samples,
                                                               np.random.default_rng(seed)))
    X = X[free.violation(X) <= optimizer.TOL]
    if not len(X):
        raise optimizer.InfeasibleError(f"no sampled mixture satisfies the constraints ({cfg.random_samples} samples); "
                                        "relax optimize.metric_bounds or optimize.min_weight/max_weight")
    mean, std = free.objective.mean_std(X)
    scored = Scored(X, mean, std, free.constraints.distance(X))
    result = free.result(cfg.choice, pick(cfg.choice, scored, cfg, natural), samples=len(X))
    return [result]
