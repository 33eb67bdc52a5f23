"""The choice methods (automixer.mixing.choice): one contract over all, and each method's own property."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from automixer.mixing import choice
from automixer.mixing.config import OptimizeConfig
from automixer.mixing.surrogates import make_surrogate

NATURAL = np.array([0.5, 0.3, 0.2])


def _scored(seed: int = 0, n: int = 200) -> choice.Scored:
    """Candidates whose predicted mean is best far from the sampled mixtures, where the std is large."""
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.ones(3), size=n)
    anchors = rng.dirichlet(NATURAL * 20, size=10)
    dist = choice.nearest_distance(X, anchors)
    mean = -X[:, 2] + 0.05 * rng.normal(size=n)
    return choice.Scored(X, mean, 0.1 + dist, dist)


@pytest.mark.parametrize("method", choice.CHOICES)
def test_every_method_answers_a_mixture_on_the_simplex(method):
    s = _scored()
    w = choice.pick(method, s, OptimizeConfig(), NATURAL, radius=0.4)
    assert w.shape == (3,) and np.all(w >= 0) and w.sum() == pytest.approx(1.0)


def test_trust_region_keeps_the_choice_within_its_radius_and_pays_for_the_std():
    s = _scored()
    cfg = OptimizeConfig(trust_region=0.3, uncertainty_penalty=0.0)
    w = choice.pick("trust_region", s, cfg, NATURAL)
    i = int(np.flatnonzero((s.X_NC == w).all(1))[0])
    assert s.distance_N[i] <= 0.3
    inside = s.distance_N <= 0.3
    assert s.mean_N[i] == s.mean_N[inside].min()
    free = choice.pick("trust_region", s, dataclasses.replace(cfg, trust_region=2.0), NATURAL)
    assert choice.nearest_distance(free[None], s.X_NC[inside]).min() > 0  # unconstrained goes further out


def test_cv_trust_region_uses_the_given_radius():
    s = _scored()
    near = choice.pick("cv_trust_region", s, OptimizeConfig(), NATURAL, radius=0.1)
    i = int(np.flatnonzero((s.X_NC == near).all(1))[0])
    assert s.distance_N[i] <= 0.1
    with pytest.raises(ValueError, match="radius"):
        choice.pick("cv_trust_region", s, OptimizeConfig(), NATURAL)


def test_top_k_is_the_mean_of_the_k_best_predicted():
    s = _scored()
    w = choice.pick("top_k", s, OptimizeConfig(top_k=5), NATURAL)
    assert np.allclose(w, s.X_NC[np.argsort(s.mean_N)[:5]].mean(0))


def test_kl_natural_moves_toward_natural_as_the_penalty_grows():
    s = _scored()
    kls = [choice.kl_to(choice.pick("kl_natural", s, OptimizeConfig(kl_strength=k, near_best=0.02), NATURAL)[None],
                        NATURAL)[0] for k in (0.0, 0.3, 3.0)]
    assert kls[0] > kls[1] > kls[2]
    assert choice.kl_to(NATURAL[None], NATURAL)[0] == pytest.approx(0.0)


def test_unknown_choice_names_the_allowed_ones():
    with pytest.raises(ValueError, match="trust_region, top_k"):
        choice.pick("bogus", _scored(), OptimizeConfig(), NATURAL)


def test_cv_radius_stops_where_errors_leave_two_std():
    distance = np.linspace(0.05, 1.0, 40)
    z = np.where(distance < 0.6, 0.5, 3.0)  # calibrated near the sampled mixtures, not beyond 0.6
    radius = choice.cv_radius(z, distance, coverage=0.8, window=8)
    assert 0.5 < radius < 0.7
    assert choice.cv_radius(np.full(40, 0.5), distance, 0.8) == pytest.approx(1.0)  # never breaks: the farthest
    assert choice.cv_radius(np.full(40, 3.0), distance, 0.8) == pytest.approx(0.05)  # never calibrated: the nearest


def test_oof_objective_measures_distance_and_error_on_a_known_function():
    rng = np.random.default_rng(1)
    X = rng.dirichlet(np.ones(3), size=30)
    y = 2.0 - X[:, 0] + 0.01 * rng.normal(size=30)
    mean, std, true, dist = choice.oof_objective({"m": make_surrogate("gp", random_state=0)}, X, {"m": y},
                                                 {"m": 1.0}, {"m": (y.mean(), y.std())}, 5, 0)
    assert np.all(dist > 0) and np.all(std > 0)
    assert np.corrcoef(mean, true)[0, 1] > 0.9


def test_cv_radius_from_too_few_runs_is_a_config_error_naming_the_key():
    from automixer.mixing.optimizer import Objective
    from automixer.mixing.surrogates import SurrogateSet, TargetModel
    from dataplane.errors import ConfigError

    X = np.array([[0.5, 0.5], [0.5, 0.5], [0.2, 0.8]])
    y = np.array([1.0, 1.1, 2.0])
    model = make_surrogate("linear").fit(X, y)
    sset = SurrogateSet(["a", "b"], {"metric/x_bpb": TargetModel("metric/x_bpb", "linear", model, False, 1.0, 1.0)})
    objective = Objective(sset, OptimizeConfig(objective={"x_bpb": 1.0}))
    with pytest.raises(ConfigError, match="optimize.choice: cv_trust_region needs at least 3 distinct"):
        choice.radius_from_runs(objective, X, {"metric/x_bpb": y}, 3, 0, 0.8)


@pytest.mark.parametrize("method", choice.CHOICES)
def test_choose_in_the_flow_answers_a_feasible_mixture_for_every_method(method):
    from automixer.mixing import optimizer
    from automixer.mixing.surrogates import SurrogateSet, TargetModel

    rng = np.random.default_rng(0)
    X = rng.dirichlet(NATURAL * 10, size=12)
    y = 2.0 - X[:, 2] + 0.01 * rng.normal(size=12)
    model = make_surrogate("gp", random_state=0).fit(X, y)
    sset = SurrogateSet(["a", "b", "c"], {"metric/x_bpb": TargetModel("metric/x_bpb", "gp", model, False,
                                                                      float(y.mean()), float(y.std()))})
    cfg = OptimizeConfig(objective={"x_bpb": 1.0}, choice=method, solver="random", random_samples=500, top_k=5,
                         max_epochs=0.0)
    objective = optimizer.Objective(sset, cfg)
    problem = optimizer.Problem(objective, optimizer.build_constraints(sset.components, cfg, {}, X))
    radius = choice.radius_from_runs(objective, X, {"metric/x_bpb": y}, 4, 0, 0.8)["radius"]
    best = choice.choose(problem, cfg, NATURAL, X[0], 0, radius)[0]
    assert best.feasible and best.weights.sum() == pytest.approx(1.0)
    assert best.weights[2] > NATURAL[2]  # the objective rewards component c
    if method == "cv_trust_region":
        assert problem.constraints.distance(best.weights[None])[0] <= radius + 1e-6
