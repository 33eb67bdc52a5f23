"""Configuration of surrogate fitting and mixture optimisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional


@dataclass(frozen=True, kw_only=True)
class FitConfig:
    """Surrogate regressors from mixture weights to metrics."""

    targets: tuple[str, ...] = ()
    """Metrics to fit (``metric/<name>``); empty fits every metric column."""
    candidates: tuple[str, ...] = ("lightgbm", "gp", "linear", "loglinear", "mixing_law", "ensemble")
    """Surrogates tried per target; the best by cross-validation is kept."""
    cv_folds: int = 5
    """K of K-fold cross-validation."""
    higher_is_better: tuple[str, ...] = ()
    """Metrics where higher is better (e.g. accuracies); the rest are minimised."""


@dataclass(frozen=True, kw_only=True)
class OptimizeConfig:
    """Constrained search for the best mixture."""

    objective: dict[str, float] = field(default_factory=dict)
    """Weights of metrics in the objective (metric -> weight); empty: equal weights over targets."""
    solver: Literal["auto", "tpe", "cmaes", "slsqp", "random"] = "auto"
    """auto tries all and keeps the best."""
    token_budget: int = 100_000_000
    """Tokens of the full training run."""
    max_epochs: float = 4.0
    """No component repeated more than this many times in the full run."""
    max_synthetic_share: float = 0.3
    """Upper bound on the total weight of synthetic components."""
    trust_region: float = 0.5
    """Maximum L1 distance from the nearest sampled mixture (null-like large value disables)."""
    min_weight: dict[str, float] = field(default_factory=dict)
    max_weight: dict[str, float] = field(default_factory=dict)
    n_trials: int = 300
    """Trials per optuna solver."""
