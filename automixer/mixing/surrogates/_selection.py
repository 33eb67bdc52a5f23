"""K-fold cross-validation of candidate surrogates and the per-target choice.

Scores are computed on the pooled out-of-fold predictions (folds of ~12 runs are too small to
score one by one): Spearman rho (ranking, what the optimizer needs), R^2 and MAE.

Folds are grouped: runs whose mixtures are equal within ``SAME_MIXTURE`` (seed repeats of one mixture)
always share a fold, so a model is never scored on a mixture it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.metrics import mean_absolute_error, r2_score

SAME_MIXTURE = 1e-3
"""Two runs are repeats of one mixture when no weight differs by more than this."""

ENSEMBLE = "ensemble"
"""The registry name that ``choose`` prefers among candidates within noise of the best."""

INNER_FOLDS = 5
"""K of the inner cross-validation that models use for their own out-of-fold error."""


@dataclass
class CVResult:
    """Scores of one candidate on one target, with its out-of-fold predictions."""

    surrogate: str
    spearman: float
    r2: float
    mae: float
    oof: np.ndarray

    def scores(self) -> dict[str, float]:
        return {"spearman": self.spearman, "r2": self.r2, "mae": self.mae}


def mixture_groups(X_NC: np.ndarray, tol: float = SAME_MIXTURE) -> np.ndarray:
    """Group id per run: runs whose weights all agree within ``tol`` (chained) share an id."""
    n = len(X_NC)
    parent = np.arange(n)

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    close = np.abs(X_NC[:, None, :] - X_NC[None, :, :]).max(axis=2) <= tol
    for i, j in zip(*np.nonzero(np.triu(close, k=1))):
        parent[root(i)] = root(j)
    roots = np.array([root(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1]


def grouped_folds(X_NC: np.ndarray, folds: int, random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs of a shuffled K-fold where repeats of one mixture share a fold.

    Groups are visited in a seeded random order, each going to the currently smallest fold, so folds stay
    balanced; with no repeats this is a plain shuffled K-fold.
    """
    groups = mixture_groups(X_NC)
    if groups.max() < 1:
        raise ValueError(f"cross-validation needs at least 2 distinct mixtures, got {len(X_NC)} runs of one mixture")
    k = max(2, min(folds, groups.max() + 1))
    sizes = np.zeros(k, dtype=int)
    fold_of_group = np.empty(groups.max() + 1, dtype=int)
    for g in np.random.default_rng(random_state).permutation(groups.max() + 1):
        f = int(np.argmin(sizes))
        fold_of_group[g] = f
        sizes[f] += int((groups == g).sum())
    fold = fold_of_group[groups]
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


def underdetermined(candidates: dict, X_NC: np.ndarray) -> dict[str, str]:
    """Candidates (name -> unfitted estimator) with at least as many free parameters as distinct mixtures
    in ``X_NC``, each with why. Such a model fits the sampled runs' seed noise exactly and is unconstrained
    between them, yet a CV over a few runs can still rank it first by chance."""
    n = int(mixture_groups(X_NC).max()) + 1
    sizes = {name: est.n_parameters(X_NC.shape[1]) for name, est in candidates.items()}
    return {name: f"{k} parameters from {n} distinct mixtures" for name, k in sizes.items() if k is not None and k >= n}


def out_of_fold(estimator, X: np.ndarray, y: np.ndarray, folds: int, random_state: int) -> np.ndarray:
    """Predictions for every run from a model that did not see it nor a repeat of its mixture."""
    oof = np.empty(len(y))
    for train, test in grouped_folds(X, folds, random_state):
        oof[test] = clone(estimator).fit(X[train], y[train]).predict(X[test])
    return oof


def score(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Spearman rho, R^2, MAE (rho is 0 when either side is constant)."""
    rho = spearmanr(y, pred).statistic if np.ptp(pred) > 0 and np.ptp(y) > 0 else 0.0
    return float(np.nan_to_num(rho)), float(r2_score(y, pred)), float(mean_absolute_error(y, pred))


def cross_validate(candidates: dict, X: np.ndarray, y: np.ndarray, folds: int, random_state: int = 0) -> list[CVResult]:
    """CV every candidate (name -> unfitted estimator) on the same folds."""
    results = []
    for name, est in candidates.items():
        oof = out_of_fold(est, X, y, folds, random_state)
        results.append(CVResult(name, *score(y, oof), oof))
    return results


def choose(results: list[CVResult]) -> CVResult:
    """Best Spearman rho, unless others are within its noise: one standard error of rho (Fieller's
    approximation, (1 - rho^2) sqrt(1.06 / (n - 3)), at least 0.005). Among those, the ensemble if it is one
    (averaging hedges a pick that the CV cannot make), else the higher R^2."""
    top = max(r.spearman for r in results)
    n = len(results[0].oof)
    noise = max(0.005, (1 - top**2) * np.sqrt(1.06 / max(n - 3, 1)))
    near = [r for r in results if r.spearman >= top - noise]
    hedged = [r for r in near if r.surrogate == ENSEMBLE]
    return hedged[0] if hedged else max(near, key=lambda r: r.r2)


def inner_oof(fit_predict, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold predictions of ``fit_predict(X_train, y_train) -> predict`` over a grouped inner K-fold."""
    oof = np.empty(len(y))
    for train, test in grouped_folds(X, INNER_FOLDS, seed):
        oof[test] = fit_predict(X[train], y[train])(X[test])
    return oof
