"""Configuration of surrogate fitting and mixture optimisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from automixer.mixing.columns import METRIC

SURROGATE_NAMES = ("lightgbm", "gp", "linear", "loglinear", "mixing_law", "sqrt_linear", "power_law", "ensemble")
"""Surrogates known to ``automixer.mixing.surrogates`` (its registry checks it holds exactly these)."""

SOLVER_NAMES = ("auto", "tpe", "cmaes", "nsga2", "slsqp", "random")


def metric_key(name: str) -> str:
    """``code`` and ``metric/code`` both name the runs-table column ``metric/code``."""
    return name if name.startswith(METRIC) else f"{METRIC}{name}"


@dataclass(frozen=True, kw_only=True)
class FitConfig:
    """Surrogate regressors from mixture weights to metrics."""

    targets: tuple[str, ...] = ()
    """Metrics to fit (``metric/<name>`` or ``<name>``); empty fits every metric column."""
    candidates: tuple[str, ...] = ("lightgbm", "gp", "linear", "loglinear", "mixing_law", "sqrt_linear", "power_law",
                                   "ensemble")
    """Surrogates tried per target; the best by cross-validation is kept. A candidate with at least as many free
    parameters as distinct sampled mixtures (the mixing law: components + 2; the power law: components + 4) is
    left out unless all are."""
    cv_folds: int = 5
    """K of K-fold cross-validation."""
    higher_is_better: tuple[str, ...] = ()
    """Metrics where higher is better. Others take the direction the sweep recorded in the runs table,
    else the whole-suffix rule (``_acc`` higher; ``_loss``, ``_bpb``, ``_ppl`` lower; docs/RUNS_TABLE.md)."""
    lower_is_better: tuple[str, ...] = ()
    """Metrics where lower is better, for names neither recorded nor resolved by the suffix rule
    (e.g. an imported table's per-task bpb scores)."""
    features: Literal["auto", "weights", "mde"] = "auto"
    """Surrogate inputs. weights: the mixture weights only. mde: also the Mixtures-of-Data-Experts estimate of
    each metric from the sweep's experts (``<workdir>/experts``; automixer/mixing/mde.py): the candidates that
    can take it (gp, linear, loglinear, sqrt_linear, lightgbm) are tried again as ``<name>+mde``, plus ``mde``
    (the estimate alone, calibrated), and CV chooses among all; an error if a component has no expert.
    auto: mde when the workdir has an expert for every component, else weights."""

    def validate(self) -> None:
        unknown = [c for c in self.candidates if c not in SURROGATE_NAMES]
        if unknown:
            raise ValueError(
                f"candidates: unknown surrogate {unknown[0]!r}; expected some of {', '.join(SURROGATE_NAMES)}"
            )
        if not self.candidates:
            raise ValueError(f"candidates: empty; expected some of {', '.join(SURROGATE_NAMES)}")
        both = sorted({metric_key(m) for m in self.higher_is_better} & {metric_key(m) for m in self.lower_is_better})
        if both:
            raise ValueError(f"{both[0]} is in both higher_is_better and lower_is_better")
        if self.cv_folds < 2:
            raise ValueError(f"cv_folds must be at least 2, got {self.cv_folds}")


@dataclass(frozen=True, kw_only=True)
class ScaleUpConfig:
    """Models larger than the proxies, trained by ``optimize --validate`` on the optimized, natural, uniform
    and best sampled mixtures (the transfer check). 0 for a size means "derived from the proxy"."""

    d_model: int = 0
    """Width; 0: twice the proxy's."""
    n_layers: int = 0
    """Blocks; 0: twice the proxy's."""
    expert_hidden: int = 0
    """Expert hidden width; 0: twice the proxy's."""
    steps: int = 0
    """Optimizer steps (same batch and sequence length); 0: four times the proxy's."""
    seeds: int = 2
    """Seeds per mixture (at least 2, for the seed spread); 0 disables the scale-up."""
    min_ratio: float = 4.0
    """The scale-up must have at least this many times the proxy's parameters and tokens."""

    def validate(self) -> None:
        for key in ("d_model", "n_layers", "expert_hidden", "steps"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0 (0: derived from the proxy), got {getattr(self, key)}")
        if self.seeds == 1 or self.seeds < 0:
            raise ValueError(f"seeds must be 0 (disabled) or at least 2 (for a seed spread), got {self.seeds}")
        if self.min_ratio < 1:
            raise ValueError(f"min_ratio must be at least 1, got {self.min_ratio}")


@dataclass(frozen=True, kw_only=True)
class OptimizeConfig:
    """Constrained search for the best mixture."""

    objective: dict[str, float] = field(default_factory=dict)
    """Weights of metrics in the objective (metric -> weight). Empty: one metric per capability group,
    equally weighted, each the group's metric with the best CV Spearman (at least ``min_signal``).
    Each metric enters as a z-score over the sweep's runs, sign-flipped where higher is better."""
    min_signal: float = 0.3
    """CV Spearman a metric needs to enter the default objective (a group below it is left out, with a warning)."""
    target: str = ""
    """If set, optimise only this metric, subject to ``metric_bounds`` on the others (objective ignored)."""
    metric_bounds: dict[str, float] = field(default_factory=dict)
    """Bounds on predicted metrics: at most this value (lower-is-better) or at least it (higher-is-better)."""
    solver: Literal["auto", "tpe", "cmaes", "nsga2", "slsqp", "random"] = "auto"
    """auto tries all and keeps the best; slsqp alone starts from the best sampled mixture."""
    token_budget: int = 100_000_000
    """Tokens of the full training run."""
    max_epochs: float = 4.0
    """No component repeated more than this many times in the full run; 0 disables the check."""
    max_synthetic_share: float = 0.3
    """Upper bound on the total weight of synthetic components (1 disables)."""
    trust_region: float = 0.5
    """Maximum L1 distance from the nearest sampled mixture (2 or more disables: the simplex's diameter)."""
    uncertainty_penalty: float = 1.0
    """Objective + this many predicted stds (a lower confidence bound on the gain; 0 ranks by the mean only)."""
    min_weight: dict[str, float] = field(default_factory=dict)
    """Per-component lower bounds (component name -> weight)."""
    max_weight: dict[str, float] = field(default_factory=dict)
    """Per-component upper bounds."""
    n_trials: int = 300
    """Trials per optuna solver."""
    random_samples: int = 20000
    """Mixtures scored by the RegMix-style random simulation."""
    top_k: int = 100
    """The random simulation (and ``choice: top_k``) answers with the mean of its top-k feasible mixtures."""
    choice: Literal["trust_region", "top_k", "kl_natural", "cv_trust_region"] = "cv_trust_region"
    """How the mixture is chosen (automixer.mixing.choice): trust_region (the solvers within ``trust_region``,
    paying ``uncertainty_penalty``), top_k (RegMix: mean of the ``top_k`` best predicted samples), kl_natural
    (Olmix: + ``kl_strength`` x KL to natural, mean of the samples within ``near_best``), cv_trust_region
    (trust_region with the radius where cross-validated errors stop being calibrated; the default: the best
    true rank on the Olmix swarm, docs/DECISIONS.md)."""
    kl_strength: float = 0.2
    """``choice: kl_natural``: objective units per nat of KL(mixture || natural)."""
    near_best: float = 0.1
    """``choice: kl_natural``: samples within this much of the best penalised score are averaged."""
    calibrated_coverage: float = 0.8
    """``choice: cv_trust_region``: share of held-out errors within +-2 predicted std that counts as calibrated."""
    validate_seeds: int = 2
    """``optimize --validate`` trains each validated mixture with this many seeds (at least 2: the seed spread)."""
    scale_up: ScaleUpConfig = field(default_factory=ScaleUpConfig)
    """The larger models ``optimize --validate`` trains to check that the mixture transfers."""

    def validate(self) -> None:
        for key in ("min_weight", "max_weight"):
            for name, value in getattr(self, key).items():
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{key}.{name} must be in [0, 1], got {value}")
        for name, low in self.min_weight.items():
            high = self.max_weight.get(name, 1.0)
            if low > high:
                raise ValueError(f"min_weight.{name}={low} exceeds max_weight.{name}={high}")
        if not 0.0 <= self.max_synthetic_share <= 1.0:
            raise ValueError(f"max_synthetic_share must be in [0, 1], got {self.max_synthetic_share}")
        if self.uncertainty_penalty < 0:
            raise ValueError(f"uncertainty_penalty must be >= 0 (0 disables), got {self.uncertainty_penalty}")
        if self.trust_region <= 0:
            raise ValueError(f"trust_region must be positive (2 disables it), got {self.trust_region}")
        if self.token_budget <= 0:
            raise ValueError(f"token_budget must be positive, got {self.token_budget}")
        if self.max_epochs < 0:
            raise ValueError(f"max_epochs must be >= 0 (0 disables), got {self.max_epochs}")
        if self.kl_strength < 0 or self.near_best < 0:
            raise ValueError(f"kl_strength and near_best must be >= 0, got {self.kl_strength} and {self.near_best}")
        if not 0.0 < self.calibrated_coverage <= 1.0:
            raise ValueError(f"calibrated_coverage must be in (0, 1], got {self.calibrated_coverage}")
        if self.validate_seeds < 2:
            raise ValueError(f"validate_seeds must be at least 2 (for a seed spread), got {self.validate_seeds}")
        for key in ("n_trials", "random_samples", "top_k"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)}")
        if not -1.0 <= self.min_signal <= 1.0:
            raise ValueError(f"min_signal is a Spearman correlation in [-1, 1], got {self.min_signal}")
        bad = {k: v for k, v in self.objective.items() if v < 0}
        if bad:
            raise ValueError(f"objective weights must be >= 0, got {bad}")
        if self.objective and not any(v > 0 for v in self.objective.values()):
            raise ValueError(
                f"objective: every weight is 0 ({', '.join(self.objective)}); give at least one metric "
                "a positive weight, or leave objective empty for one metric per capability group"
            )
