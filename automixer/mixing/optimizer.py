"""Constrained search for the best mixture over fitted surrogates (``propose_next`` lives in acquisition.py).

Shape legend: N mixtures, C components, M metrics. The objective is minimised: a weighted sum of the
metrics' sign-adjusted z-scores (or one metric, with bounds on the others), plus
``optimize.uncertainty_penalty`` times its predicted std (a lower confidence bound on the gain: a mixture
the surrogates are unsure of must promise more to win). Constraints: weights sum to
1, per-component min/max (max also from max_epochs * available tokens / token_budget), maximum synthetic
share, and a trust region (L1 distance to the nearest sampled mixture). Box and simplex are enforced by
projection; synthetic share, trust region and metric bounds by a penalty (and as SLSQP constraints).
Solvers: random (RegMix: score many mixtures, average the top-k), tpe, cmaes, nsga2 (optuna), slsqp.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from automixer.mixing.config import OptimizeConfig, metric_key
from automixer.mixing.metrics import default_objective
from dataplane.errors import ConfigError

PENALTY = 100.0
TOL = 1e-6


class InfeasibleError(ConfigError):
    """The constraints admit no mixture; the message names the config keys involved."""


@dataclass
class Constraints:
    """Feasible set of mixtures over ``components`` (see module docstring)."""

    components: list[str]
    lower: np.ndarray
    upper: np.ndarray
    synthetic: np.ndarray
    max_synthetic: float
    anchors_NC: np.ndarray
    trust_region: float
    notes: list[str] = field(default_factory=list)

    def distance(self, X_NC: np.ndarray) -> np.ndarray:
        """L1 distance of each mixture to the nearest sampled mixture."""
        if len(self.anchors_NC) == 0:
            return np.zeros(len(X_NC))
        return np.abs(X_NC[:, None, :] - self.anchors_NC[None, :, :]).sum(axis=2).min(axis=1)

    def violation(self, X_NC: np.ndarray) -> np.ndarray:
        """Total amount by which each mixture breaks the constraints (0 when feasible)."""
        box = np.clip(self.lower - X_NC, 0, None).sum(1) + np.clip(X_NC - self.upper, 0, None).sum(1)
        total = box + np.abs(X_NC.sum(1) - 1.0) + np.clip(X_NC[:, self.synthetic].sum(1) - self.max_synthetic, 0, None)
        if self.trust_region < 2.0:
            total = total + np.clip(self.distance(X_NC) - self.trust_region, 0, None)
        return total

    def project(self, V_NC: np.ndarray) -> np.ndarray:
        """Euclidean projection onto {lower <= w <= upper, sum w = 1} (bisection on the shift)."""
        inside = ((V_NC >= self.lower) & (V_NC <= self.upper)).all(1) & (np.abs(V_NC.sum(1) - 1.0) < 1e-12)
        if inside.all():
            return V_NC
        lo = (V_NC - self.upper[None]).min(1) - 1.0
        hi = (V_NC - self.lower[None]).max(1) + 1.0
        for _ in range(45):
            mid = (lo + hi) / 2
            total = np.clip(V_NC - mid[:, None], self.lower, self.upper).sum(1)
            lo, hi = np.where(total > 1, mid, lo), np.where(total > 1, hi, mid)
        return np.where(inside[:, None], V_NC, np.clip(V_NC - ((lo + hi) / 2)[:, None], self.lower, self.upper))

    def repair(self, V_NC: np.ndarray) -> np.ndarray:
        """Project, then shrink an excess synthetic share onto the other components (a few rounds)."""
        X = self.project(V_NC)
        for _ in range(3):
            excess = X[:, self.synthetic].sum(1) - self.max_synthetic
            if not self.synthetic.any() or (excess <= TOL).all():
                break
            syn = X[:, self.synthetic].sum(1, keepdims=True)
            scale = np.where(excess[:, None] > 0, self.max_synthetic / np.maximum(syn, 1e-12), 1.0)
            X = X.copy()
            X[:, self.synthetic] *= scale
            X = self.project(X)
        return X


def build_constraints(components: list[str], cfg: OptimizeConfig, info: dict[str, dict],
                      anchors_NC: np.ndarray) -> Constraints:
    """Bounds from the config and the components table; raise InfeasibleError naming the keys."""
    for key in ("min_weight", "max_weight"):
        unknown = [c for c in getattr(cfg, key) if c not in components]
        if unknown:
            raise ConfigError(
                f"optimize.{key}.{unknown[0]}: unknown component; components are: {', '.join(components)}"
            )
    lower = np.array([cfg.min_weight.get(c, 0.0) for c in components])
    upper = np.array([cfg.max_weight.get(c, 1.0) for c in components])
    why = {c: f"optimize.max_weight.{c}" for c in cfg.max_weight}
    notes = []
    tokens = {c: info.get(c, {}).get("tokens") for c in components}
    if cfg.max_epochs > 0:
        missing = [c for c in components if not tokens[c]]
        if missing:
            why = (
                "the components table gives no token count for them"
                if info
                else "no components table or components.json (automixer sweep writes them in the CONFIG's workdir)"
            )
            warnings.warn(
                f"max-epochs constraint skipped for {', '.join(missing)}: available tokens unknown: "
                f"{why}; set optimize.max_epochs: 0 to silence",
                stacklevel=2,
            )
            notes.append(f"max_epochs skipped for {', '.join(missing)} (tokens unknown)")
        for i, c in enumerate(components):
            if tokens[c]:
                cap = cfg.max_epochs * tokens[c] / cfg.token_budget
                if cap < upper[i]:
                    upper[i], why[c] = (
                        cap,
                        (
                            f"optimize.max_epochs={cfg.max_epochs} x {tokens[c]} tokens of {c} "
                            f"/ optimize.token_budget={cfg.token_budget}"
                        ),
                    )
    synthetic = np.array([bool(info.get(c, {}).get("synthetic", c.startswith("synth"))) for c in components])
    _check_feasible(components, lower, upper, why, synthetic, cfg, tokens)
    return Constraints(
        components,
        lower,
        upper,
        synthetic,
        cfg.max_synthetic_share,
        np.asarray(anchors_NC, dtype=np.float64),
        cfg.trust_region,
        notes,
    )


def _room(upper: np.ndarray, synthetic: np.ndarray, max_synthetic: float) -> float:
    """The largest total weight the upper bounds allow."""
    return float(upper[~synthetic].sum() + min(max_synthetic, upper[synthetic].sum()))


def _budget_hint(components, cfg: OptimizeConfig, tokens: dict, synthetic: np.ndarray) -> str:
    """'; the largest feasible optimize.token_budget is N' when the epoch caps are what binds."""
    if cfg.max_epochs <= 0 or not any(tokens.get(c) for c in components):
        return ""
    max_w = np.array([cfg.max_weight.get(c, 1.0) for c in components])
    epochs_tokens = np.array([cfg.max_epochs * tokens[c] if tokens.get(c) else np.inf for c in components])

    def room(budget: float) -> float:
        return _room(np.minimum(max_w, epochs_tokens / budget), synthetic, cfg.max_synthetic_share)

    if room(1.0) < 1 - TOL:
        return " (no token budget fixes this: raise optimize.max_weight or optimize.max_synthetic_share)"
    lo, hi = 1.0, float(cfg.token_budget)  # room(lo) >= 1 > room(hi)
    while hi - lo > max(1.0, lo * 1e-6):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if room(mid) >= 1.0 else (lo, mid)
    return (
        f"; the largest feasible optimize.token_budget is {int(lo):,} tokens "
        f"(at optimize.max_epochs={cfg.max_epochs:g}), or raise optimize.max_epochs"
    )


def _check_feasible(components, lower, upper, why, synthetic, cfg, tokens=None) -> None:
    for i, c in enumerate(components):
        if lower[i] > upper[i] + TOL:
            raise InfeasibleError(
                f"infeasible constraints: optimize.min_weight.{c}={lower[i]:g} exceeds the "
                f"upper bound {upper[i]:.4g} from {why.get(c, 'optimize.max_weight')}"
            )
    if lower.sum() > 1 + TOL:
        parts = ", ".join(f"{c}={lower[i]:g}" for i, c in enumerate(components) if lower[i] > 0)
        raise InfeasibleError(f"infeasible constraints: optimize.min_weight sums to {lower.sum():.4g} > 1 ({parts})")
    room = _room(upper, synthetic, cfg.max_synthetic_share)
    if room < 1 - TOL:
        parts = "; ".join(f"{c} <= {upper[i]:.4g} ({why[c]})" for i, c in enumerate(components) if c in why)
        raise InfeasibleError(
            f"infeasible constraints: upper bounds allow at most {room:.4g} < 1 in total "
            f"(optimize.max_synthetic_share={cfg.max_synthetic_share:g}; {parts or 'no per-component caps'})"
            + _budget_hint(components, cfg, tokens or {}, synthetic)
        )
    if lower[synthetic].sum() > cfg.max_synthetic_share + TOL:
        raise InfeasibleError(
            f"infeasible constraints: optimize.min_weight of synthetic components sums to "
            f"{lower[synthetic].sum():.4g} > optimize.max_synthetic_share={cfg.max_synthetic_share:g}"
        )


class Objective:
    """Scalar objective (lower is better) and metric-bound slack from a SurrogateSet and the config."""

    def __init__(self, sset, cfg: OptimizeConfig):
        self.sset = sset
        self.metrics = list(sset.targets)
        if cfg.target:
            self.weights = {self._known(cfg.target, "optimize.target"): 1.0}
            self.chosen_by = {"rule": "optimize.target"}
        elif cfg.objective:
            self.weights = {self._known(k, f"optimize.objective.{k}"): v for k, v in cfg.objective.items()}
            self.chosen_by = {"rule": "optimize.objective"}
        else:
            spearman = {m: t.cv.get(t.surrogate, {}).get("spearman") for m, t in sset.targets.items()}
            self.weights, self.chosen_by = default_objective(spearman, cfg.min_signal)
        self.uncertainty_penalty = cfg.uncertainty_penalty
        self.bounds = {self._known(k, f"optimize.metric_bounds.{k}"): v for k, v in cfg.metric_bounds.items()}

    def _known(self, name: str, key: str) -> str:
        metric = metric_key(name)
        if metric not in self.sset.targets:
            raise ConfigError(f"{key}: no surrogate for {metric}; fitted targets: {', '.join(self.metrics)}")
        return metric

    def __call__(self, X_NC: np.ndarray) -> np.ndarray:
        mean, std = self.mean_std(X_NC)
        return mean + self.uncertainty_penalty * std if self.uncertainty_penalty else mean

    def mean_std(self, X_NC: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted objective and its std (metrics' errors taken as independent; 0 without uncertainty)."""
        names = list(self.weights)
        w = np.array([self.weights[m] for m in names])
        if not self.uncertainty_penalty:
            return self.sset.normalized(X_NC, names) @ w, np.zeros(len(X_NC))
        z, sd = self.sset.normalized_with_std(X_NC, names)
        return z @ w, np.sqrt((sd**2) @ w**2)

    def interval(self, X_NC: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted objective and its std whatever the penalty (0 std from models without uncertainty)."""
        names = list(self.weights)
        w = np.array([self.weights[m] for m in names])
        z, sd = self.sset.normalized_with_std(X_NC, names)
        return z @ w, np.sqrt((sd**2) @ w**2)

    def of_measured(self, values: dict[str, float]) -> float:
        """The objective of measured metric values (same normalisation as the predictions)."""
        t = self.sset.targets
        return float(sum(w * t[m].sign * (values[m] - t[m].center) / t[m].scale for m, w in self.weights.items()))

    def slack(self, X_NC: np.ndarray) -> np.ndarray:
        """(N, B) bound slack in metric units, >= 0 where the bound holds."""
        if not self.bounds:
            return np.zeros((len(X_NC), 0))
        cols = [
            self.sset.targets[m].sign * (b - self.sset.targets[m].model.predict(X_NC)) for m, b in self.bounds.items()
        ]
        return np.column_stack(cols)


@dataclass
class SolverResult:
    """One solver's answer."""

    solver: str
    weights: np.ndarray
    value: float
    feasible: bool
    detail: dict = field(default_factory=dict)


@dataclass
class Problem:
    """Objective + constraints; ``penalized`` is what black-box solvers minimise."""

    objective: Objective
    constraints: Constraints

    def violation(self, X_NC):
        return self.constraints.violation(X_NC) + np.clip(-self.objective.slack(X_NC), 0, None).sum(1)

    def penalized(self, X_NC):
        return self.objective(X_NC) + PENALTY * self.violation(X_NC)

    def result(self, solver: str, w: np.ndarray, **detail) -> SolverResult:
        w = self.constraints.repair(w[None])[0]
        return SolverResult(
            solver, w, float(self.objective(w[None])[0]), bool(self.violation(w[None])[0] <= TOL), detail
        )


def dirichlet_candidates(center: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Mixtures around ``center`` at several concentrations, plus flat-Dirichlet draws (RegMix style)."""
    parts = [rng.dirichlet(np.ones(len(center)), size=n // 4)]
    for conc in (0.5, 2.0, 8.0):
        parts.append(rng.dirichlet(center * conc * len(center) + 0.05, size=(n - n // 4) // 3 + 1))
    return np.vstack(parts)[:n]


def solve_random(problem: Problem, cfg: OptimizeConfig, center: np.ndarray, seed: int) -> SolverResult:
    """Score ``random_samples`` mixtures, average the top-k feasible ones (fall back to the best one)."""
    X = problem.constraints.repair(dirichlet_candidates(center, cfg.random_samples, np.random.default_rng(seed)))
    ok = problem.violation(X) <= TOL
    if not ok.any():
        dist = problem.constraints.distance(X).min()
        raise InfeasibleError(
            f"no mixture satisfies the constraints among {len(X)} samples: nearest to a sampled "
            f"mixture is {dist:.3g} (L1) vs optimize.trust_region={cfg.trust_region:g}; relax "
            "optimize.trust_region, optimize.metric_bounds or optimize.min_weight/max_weight"
        )
    X, values = X[ok], problem.objective(X[ok])
    top = np.argsort(values)[: cfg.top_k]
    averaged = problem.result("random", X[top].mean(0), top_k=len(top), samples=int(ok.sum()))
    best_one = problem.result("random", X[top[0]], top_k=1, samples=int(ok.sum()))
    return averaged if averaged.feasible and averaged.value <= best_one.value + 0.05 else best_one


def _trial_weights(trial, problem: Problem) -> np.ndarray:
    x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(len(problem.constraints.components))])
    return problem.constraints.repair((x / x.sum() if x.sum() > 0 else np.full(len(x), 1 / len(x)))[None])[0]


def solve_optuna(problem: Problem, cfg: OptimizeConfig, solver: str, seed: int) -> SolverResult:
    """TPE or CMA-ES over per-component raw weights (normalised and projected), penalised objective."""
    import optuna

    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, multivariate=True),
        "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
    }
    with _quiet_optuna():
        study = optuna.create_study(direction="minimize", sampler=samplers[solver]())
        study.optimize(lambda t: float(problem.penalized(_trial_weights(t, problem)[None])[0]), n_trials=cfg.n_trials)
    return problem.result(solver, _weights_of(study.best_trial.params, problem), trials=cfg.n_trials)


def solve_nsga2(problem: Problem, cfg: OptimizeConfig, seed: int) -> SolverResult:
    """NSGA-II over all metrics (the Pareto front over groups); answer: the front's best objective."""
    import optuna

    metrics = problem.objective.metrics

    def objectives(trial):
        w = _trial_weights(trial, problem)[None]
        violation = float(problem.violation(w)[0])
        trial.set_user_attr("violation", violation)
        trial.set_constraint("violation", violation - TOL)
        return tuple(float(v) for v in problem.objective.sset.normalized(w, metrics)[0])

    sampler = optuna.samplers.NSGAIISampler(population_size=max(8, min(50, cfg.n_trials // 5)), seed=seed)
    with _quiet_optuna():
        study = optuna.create_study(directions=["minimize"] * len(metrics), sampler=sampler)
        study.optimize(objectives, n_trials=cfg.n_trials)
    front = [t for t in study.best_trials if t.user_attrs.get("violation", 1.0) <= TOL]
    if not front:
        return problem.result("nsga2", _weights_of(study.trials[0].params, problem), pareto=[])
    W = np.array([_weights_of(t.params, problem) for t in front])
    best = int(np.argmin(problem.penalized(W)))
    pareto = [{"weights": W[i].tolist(), "scores": list(front[i].values)} for i in range(len(front))]
    return problem.result("nsga2", W[best], pareto=pareto, metrics=metrics)


def _weights_of(params: dict, problem: Problem) -> np.ndarray:
    x = np.array([params[f"x{i}"] for i in range(len(problem.constraints.components))])
    return problem.constraints.repair((x / x.sum() if x.sum() > 0 else np.full(len(x), 1 / len(x)))[None])[0]


def solve_slsqp(problem: Problem, start: np.ndarray, started_from: str) -> SolverResult:
    """Polish ``start`` with SLSQP: sum to 1, bounds, synthetic share, trust region, metric bounds."""
    from scipy.optimize import minimize

    c = problem.constraints
    anchor = c.anchors_NC[np.argmin(np.abs(c.anchors_NC - start).sum(1))] if len(c.anchors_NC) else start
    cons = [
        {"type": "eq", "fun": lambda w: w.sum() - 1.0},
        {"type": "ineq", "fun": lambda w: c.max_synthetic - w[c.synthetic].sum()},
    ]
    if c.trust_region < 2.0:
        cons.append({"type": "ineq", "fun": lambda w: c.trust_region - np.sqrt((w - anchor) ** 2 + 1e-10).sum()})
    if problem.objective.bounds:
        cons.append({"type": "ineq", "fun": lambda w: problem.objective.slack(w[None])[0]})
    res = minimize(
        lambda w: float(problem.objective(w[None])[0]),
        start,
        method="SLSQP",
        bounds=list(zip(c.lower, c.upper)),
        constraints=cons,
        options={"maxiter": 200, "ftol": 1e-10},
    )
    polished = problem.result("slsqp", np.clip(res.x, c.lower, c.upper), started_from=started_from)
    fallback = problem.result("slsqp", start, started_from=started_from)
    return polished if polished.feasible and polished.value <= fallback.value else fallback


def optimize(
    problem: Problem, cfg: OptimizeConfig, center: np.ndarray, start: np.ndarray, seed: int
) -> list[SolverResult]:
    """Run the configured solver(s); return every result, the best feasible first."""
    names = ["random", "tpe", "cmaes", "nsga2"] if cfg.solver == "auto" else [cfg.solver]
    if "cmaes" in names and not _has_cmaes():
        if cfg.solver == "cmaes":
            raise ConfigError(
                "optimize.solver: cmaes needs the cmaes package (pip install cmaes); "
                "or pick one of auto, tpe, nsga2, slsqp, random"
            )
        warnings.warn(
            "solver auto: skipping cmaes, the cmaes package is not installed (pip install cmaes)", stacklevel=2
        )
        names.remove("cmaes")
    results = []
    for name in names:
        if name == "random":
            results.append(solve_random(problem, cfg, center, seed))
        elif name == "nsga2":
            results.append(solve_nsga2(problem, cfg, seed))
        elif name in ("tpe", "cmaes"):
            results.append(solve_optuna(problem, cfg, name, seed))
    if cfg.solver in ("auto", "slsqp"):
        base = min((r for r in results if r.feasible), key=lambda r: r.value, default=None)
        results.append(
            solve_slsqp(
                problem,
                base.weights if base else problem.constraints.repair(start[None])[0],
                base.solver if base else "best sampled mixture",
            )
        )
    feasible = sorted((r for r in results if r.feasible), key=lambda r: r.value)
    if not feasible:
        raise InfeasibleError(
            f"no solver found a feasible mixture ({', '.join(names)}); relax optimize.trust_region, "
            "optimize.metric_bounds or optimize.min_weight/max_weight"
        )
    return feasible + [r for r in results if not r.feasible]


def _has_cmaes() -> bool:
    import importlib.util

    return importlib.util.find_spec("cmaes") is not None


class _quiet_optuna:
    """Optuna logs every trial at INFO; keep WARNING and above while a solver runs, then restore."""

    def __enter__(self):
        import optuna

        self.level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc):
        import optuna

        optuna.logging.set_verbosity(self.level)
