"""The optimizer finds the known optimum under constraints (every solver); infeasible setups fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from automixer.config import config_from_dict
from automixer.mixing import acquisition, optimizer
from automixer.mixing.config import OptimizeConfig
from automixer.mixing.runs_table import OPTIMUM
from automixer.mixing.surrogates import SurrogateSet, TargetModel


class BowlOracle:
    """A 'fitted surrogate' that is the known function: 2.5 + 4 * ||w - OPTIMUM||^2."""

    provides_std = False

    def predict(self, X):
        return 2.5 + 4.0 * ((np.asarray(X) - OPTIMUM) ** 2).sum(axis=1)


class CodeOracle:
    """Known metric/code: lower when there is more code."""

    provides_std = False

    def predict(self, X):
        X = np.asarray(X)
        return 3.0 + 1.2 * np.exp(-3.0 * X[:, 0]) + 0.3 * X[:, 2]


COMPONENTS = ["code", "stem", "math", "synth.qa"]
INFO = {c: {"tokens": 10_000_000, "synthetic": c.startswith("synth")} for c in COMPONENTS}


def _sset(*targets):
    models = {"metric/loss": BowlOracle(), "metric/code": CodeOracle()}
    return SurrogateSet(COMPONENTS, {m: TargetModel(m, "oracle", models[m], False, 3.0, 0.5) for m in targets})


def _solve(parsed, cfg, targets=("metric/loss",)):
    problem = optimizer.Problem(
        optimizer.Objective(_sset(*targets), cfg), optimizer.build_constraints(COMPONENTS, cfg, INFO, parsed.X_NC)
    )
    return optimizer.optimize(problem, cfg, np.array([0.4, 0.3, 0.2, 0.1]), parsed.X_NC[0], seed=0)


# With code capped at 0.3, the bowl's constrained minimum moves the excess 0.05 equally to the others.
CAPPED = np.array([0.3, 0.3 + 0.05 / 3, 0.25 + 0.05 / 3, 0.1 + 0.05 / 3])


@pytest.mark.parametrize("solver", ["random", "tpe", "cmaes", "nsga2", "slsqp"])
def test_each_solver_finds_the_known_constrained_optimum(solver, parsed60):
    if solver == "cmaes":
        pytest.importorskip("cmaes")
    cfg = OptimizeConfig(solver=solver, n_trials=120, random_samples=4000, max_weight={"code": 0.3}, trust_region=2.0)
    best = _solve(parsed60, cfg)[0]
    assert best.solver == solver and best.feasible
    assert best.weights[0] <= 0.3 + 1e-6
    assert np.abs(best.weights - CAPPED).sum() < 0.08, best.weights
    assert abs(best.weights.sum() - 1) < 1e-9


def test_auto_runs_every_solver_and_polish_reaches_the_optimum(parsed60):
    cfg = OptimizeConfig(n_trials=60, random_samples=3000, max_weight={"code": 0.3}, trust_region=2.0)
    results = _solve(parsed60, cfg)
    assert {r.solver for r in results} >= {"random", "tpe", "nsga2", "slsqp"}
    assert np.abs(results[0].weights - CAPPED).sum() < 0.01


def test_max_epochs_and_synthetic_share_bind(parsed60):
    info = dict(INFO, code={"tokens": 2_000_000, "synthetic": False})  # 4 epochs x 2M / 40M budget = 0.2
    cfg = OptimizeConfig(solver="slsqp", token_budget=40_000_000, max_synthetic_share=0.05, trust_region=2.0)
    problem = optimizer.Problem(
        optimizer.Objective(_sset("metric/loss"), cfg),
        optimizer.build_constraints(COMPONENTS, cfg, info, parsed60.X_NC),
    )
    best = optimizer.optimize(problem, cfg, np.full(4, 0.25), np.full(4, 0.25), seed=0)[0]
    assert best.weights[0] <= 0.2 + 1e-6 and best.weights[3] <= 0.05 + 1e-6
    assert best.weights[0] == pytest.approx(0.2, abs=1e-3) and best.weights[3] == pytest.approx(0.05, abs=1e-3)


def test_trust_region_keeps_the_answer_near_sampled_mixtures(parsed60):
    anchors = parsed60.X_NC[:1]  # one sampled mixture
    cfg = OptimizeConfig(solver="auto", n_trials=40, random_samples=3000, trust_region=0.1)
    problem = optimizer.Problem(
        optimizer.Objective(_sset("metric/loss"), cfg), optimizer.build_constraints(COMPONENTS, cfg, INFO, anchors)
    )
    best = optimizer.optimize(problem, cfg, np.full(4, 0.25), anchors[0], seed=0)[0]
    assert problem.constraints.distance(best.weights[None])[0] <= 0.1 + 1e-4


def test_one_target_subject_to_a_bound_on_another(parsed60):
    cfg = OptimizeConfig(solver="slsqp", target="loss", metric_bounds={"code": 3.5}, trust_region=2.0)
    best = _solve(parsed60, cfg, targets=("metric/loss", "metric/code"))[0]
    assert CodeOracle().predict(best.weights[None])[0] <= 3.5 + 1e-4
    assert best.weights[0] > 0.35  # pushed past the unconstrained optimum by the code bound


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"min_weight": {"code": 0.6, "math": 0.5}}, r"optimize.min_weight sums to 1.1 > 1 \(code=0.6, math=0.5\)"),
        (
            {"max_weight": {"code": 0.2, "stem": 0.2, "math": 0.2}, "max_synthetic_share": 0.1},
            r"upper bounds allow at most 0.7 < 1.*optimize.max_synthetic_share=0.1.*optimize.max_weight.code",
        ),
        ({"min_weight": {"synth.qa": 0.4}}, r"synthetic components sums to 0.4 > optimize.max_synthetic_share=0.3"),
        (
            {"min_weight": {"code": 0.5}, "token_budget": 100_000_000},
            r"optimize.min_weight.code=0.5 exceeds the upper bound 0.4 from optimize.max_epochs=4",
        ),
    ],
)
def test_infeasible_constraints_name_the_keys(overrides, match, parsed60):
    cfg = OptimizeConfig(**{"token_budget": 10_000_000, **overrides})
    with pytest.raises(optimizer.InfeasibleError, match=match):
        optimizer.build_constraints(COMPONENTS, cfg, INFO, parsed60.X_NC)


def test_unknown_component_and_metric_are_config_errors(parsed60):
    with pytest.raises(optimizer.ConfigError, match="optimize.max_weight.web: unknown component; components are: code"):
        optimizer.build_constraints(COMPONENTS, OptimizeConfig(max_weight={"web": 0.1}), INFO, parsed60.X_NC)
    with pytest.raises(
        optimizer.ConfigError,
        match="optimize.objective.mmlu: no surrogate for metric/mmlu; fitted targets: metric/loss",
    ):
        optimizer.Objective(_sset("metric/loss"), OptimizeConfig(objective={"mmlu": 1.0}))


def test_trust_region_too_tight_is_a_clear_error(parsed60):
    cfg = OptimizeConfig(solver="random", random_samples=500, trust_region=1e-4, min_weight={"synth.qa": 0.25})
    with pytest.raises(optimizer.InfeasibleError, match="optimize.trust_region=0.0001"):
        _solve(parsed60, cfg)


def test_missing_token_counts_skip_max_epochs_with_a_warning(parsed60):
    with pytest.warns(UserWarning, match="max-epochs constraint skipped for code, stem, math, synth.qa"):
        cons = optimizer.build_constraints(COMPONENTS, OptimizeConfig(), {}, parsed60.X_NC)
    assert cons.notes and (cons.upper == 1.0).all()


def test_propose_next_gives_k_diverse_mixtures_near_the_optimum(runs60, tmp_path):
    config = config_from_dict({"workdir": str(tmp_path), "optimize": {"objective": {"loss": 1.0}}})
    picks = acquisition.propose_next(runs60, 4, config)
    assert len(picks) == 4
    X = np.array([[p[c] for c in COMPONENTS] for p in picks])
    assert np.allclose(X.sum(1), 1, atol=1e-5) and (X >= 0).all()
    assert min(np.abs(X[i] - X[j]).sum() for i in range(4) for j in range(i)) >= 0.1
    assert BowlOracle().predict(X[:1])[0] < 2.55  # the first pick is the most promising: near the optimum
    assert picks == acquisition.propose_next(runs60, 4, config)


class NoisyBowl(BowlOracle):
    """The bowl, with a std that is large on the code-heavy side (a surrogate unsure there)."""

    provides_std = True

    def predict(self, X, return_std=False):
        mean = super().predict(X)
        return (mean, 2.0 * np.asarray(X)[:, 0]) if return_std else mean


def test_uncertainty_penalty_makes_an_uncertain_mixture_promise_more():
    sset = SurrogateSet(COMPONENTS, {"metric/loss": TargetModel("metric/loss", "oracle", NoisyBowl(), False, 3.0, 0.5)})
    X = np.array([OPTIMUM, [0.25, 0.35, 0.3, 0.1]])
    plain = optimizer.Objective(sset, OptimizeConfig(uncertainty_penalty=0.0))(X)
    lcb = optimizer.Objective(sset, OptimizeConfig(uncertainty_penalty=1.0))(X)
    np.testing.assert_allclose(lcb - plain, 2.0 * X[:, 0] / 0.5)
    assert plain[0] < plain[1] and lcb[0] > lcb[1]  # the sure mixture wins once uncertainty counts


def test_propose_next_picks_from_a_given_candidate_set(parsed60, tmp_path):
    config = config_from_dict({"workdir": str(tmp_path), "optimize": {"objective": {"loss": 1.0}}})
    pool = np.random.default_rng(7).dirichlet(np.ones(4), size=40)
    pool[11] = OPTIMUM
    from automixer.mixing.acquisition import propose_indices

    picks = propose_indices(parsed60, 4, config, pool)
    assert len(set(picks)) == 4 and picks[0] == 11  # the optimum first, then where the GPs know least
    mixtures = acquisition.propose_next(
        parsed60.to_table(), 2, config, candidates=[dict(zip(COMPONENTS, r)) for r in pool]
    )
    assert mixtures[0] == {c: round(float(w), 6) for c, w in zip(COMPONENTS, OPTIMUM)}


def test_accuracy_picks_spread_over_the_pool_and_aims_are_checked(parsed60, tmp_path):
    from automixer.mixing.acquisition import propose_indices

    config = config_from_dict({"workdir": str(tmp_path), "optimize": {"objective": {"loss": 1.0}}})
    pool = np.random.default_rng(8).dirichlet(np.ones(4), size=30)
    picks = propose_indices(parsed60, 3, config, pool, aim="accuracy")
    assert len(set(picks)) == 3
    assert min(np.abs(pool[i] - pool[j]).sum() for i in picks for j in picks if i != j) > 0.05
    with pytest.raises(ValueError, match="unknown aim 'best'; expected one of both, optimum, accuracy"):
        propose_indices(parsed60, 1, config, pool, aim="best")
