"""K-fold cross-validation of candidate surrogates and the per-target choice.

Scores are computed on the pooled out-of-fold predictions (folds of ~12 runs are too small to
score one by one): Spearman rho (ranking, what the optimizer needs), R^2 and MAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import KFold


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


def out_of_fold(estimator, X: np.ndarray, y: np.ndarray, folds: int, random_state: int) -> np.ndarray:
    """Predictions for every run from a model that did not see it (K-fold, shuffled)."""
    k = max(2, min(folds, len(y)))
    oof = np.empty(len(y))
    for train, test in KFold(k, shuffle=True, random_state=random_state).split(X):
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
    """Best Spearman rho; ties (within 0.005) go to the higher R^2."""
    top = max(r.spearman for r in results)
    near = [r for r in results if r.spearman >= top - 0.005]
    return max(near, key=lambda r: r.r2)
