"""Contract tests run over every surrogate (like optuna's sampler suite), plus model selection."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from automixer.mixing.runs_table import parse_runs, synthetic_runs
from automixer.mixing.surrogates import (
    REGISTRY,
    EnsembleSurrogate,
    choose,
    cross_validate,
    load_surrogate,
    make_surrogate,
    save_surrogate,
    underdetermined,
)
from automixer.mixing.surrogates._selection import CVResult, grouped_folds, mixture_groups

ALL = sorted(REGISTRY)


@pytest.fixture(scope="module")
def data():
    train = parse_runs(synthetic_runs(60, seed=0), "train")
    test = parse_runs(synthetic_runs(200, seed=1, noise=0.0), "test")
    return train.X_NC, train.metrics["metric/code_loss"], test.X_NC, test.metrics["metric/code_loss"]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return {name: make_surrogate(name, random_state=0).fit(X, y) for name in ALL}


@pytest.mark.parametrize("name", ALL)
def test_init_only_stores_params_and_clone_is_unfitted(name):
    est = make_surrogate(name, random_state=3)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        twin.predict(np.full((2, 4), 0.25))


@pytest.mark.parametrize("name", ALL)
def test_fit_returns_self_and_predict_shapes(name, data, fitted):
    X, y, X_test, _ = data
    est = fitted[name]
    assert est.n_features_in_ == 4
    assert est.predict(X_test[:7]).shape == (7,)
    assert est.provides_std  # every surrogate gives std/<metric> from predict
    mean, std = est.predict(X_test[:7], return_std=True)
    assert mean.shape == std.shape == (7,) and (std >= 0).all()
    np.testing.assert_array_equal(mean, est.predict(X_test[:7]))


@pytest.mark.parametrize("name", ALL)
def test_surrogate_recovers_the_ranking_of_held_out_mixtures(name, data, fitted):
    _, _, X_test, y_test = data
    rho = spearmanr(fitted[name].predict(X_test), y_test).statistic
    assert rho > 0.9, f"{name}: Spearman {rho:.3f}"


@pytest.mark.parametrize("name", ALL)
def test_save_load_round_trip_gives_identical_predictions(name, data, fitted, tmp_path):
    _, _, X_test, _ = data
    save_surrogate(fitted[name], tmp_path / name)
    assert not list((tmp_path / name).rglob("*.pkl"))
    loaded = load_surrogate(tmp_path / name)
    np.testing.assert_allclose(loaded.predict(X_test), fitted[name].predict(X_test), rtol=0, atol=1e-12)
    assert loaded.get_params() == fitted[name].get_params()


@pytest.mark.parametrize("name", ALL)
def test_same_random_state_gives_the_same_model(name, data, fitted):
    X, y, X_test, _ = data
    again = make_surrogate(name, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.predict(X_test), fitted[name].predict(X_test))


def test_fit_rejects_negative_weights_and_wrong_width(fitted):
    with pytest.raises(ValueError, match="weights must be >= 0"):
        make_surrogate("linear").fit(np.array([[1.2, -0.2]] * 5), np.arange(5.0))
    with pytest.raises(ValueError, match="expecting 4 features"):
        fitted["linear"].predict(np.full((1, 3), 1 / 3))


def test_unknown_surrogate_names_the_allowed_ones():
    with pytest.raises(ValueError, match="expected one of lightgbm, gp"):
        make_surrogate("xgboost")


def test_cross_validation_prefers_the_model_of_the_right_shape():
    runs = parse_runs(synthetic_runs(40, seed=5), "cv")
    y = runs.metrics["metric/loss"]  # a bowl: linear models cannot rank it
    results = cross_validate({n: make_surrogate(n) for n in ("linear", "gp")}, runs.X_NC, y, folds=4)
    by_name = {r.surrogate: r for r in results}
    assert by_name["gp"].spearman > 0.9 > by_name["linear"].spearman
    assert choose(results).surrogate == "gp"


def _cv(name, spearman, r2, n=60):
    return CVResult(name, spearman, r2, 0.1, np.zeros(n))


def test_choice_hedges_with_the_ensemble_only_within_the_noise_of_the_best():
    # at 60 runs one standard error of rho .95 is ~.013; at 30 runs, of rho .90, ~.037
    near = [_cv("power_law", 0.950, 0.90), _cv("gp", 0.945, 0.92), _cv("ensemble", 0.940, 0.91)]
    assert choose(near).surrogate == "ensemble"
    assert choose([_cv(r.surrogate, r.spearman - 0.05, r.r2) for r in near]).surrogate == "ensemble"  # rho .90
    far = [_cv("power_law", 0.950, 0.90), _cv("gp", 0.945, 0.92), _cv("ensemble", 0.930, 0.95)]
    assert choose(far).surrogate == "gp"  # the ensemble is beyond the noise: the near one with the higher R^2
    assert choose([_cv("power_law", 0.90, 0.8, n=30), _cv("ensemble", 0.87, 0.8, n=30)]).surrogate == "ensemble"
    assert choose([_cv("power_law", 0.90, 0.8, n=500), _cv("ensemble", 0.87, 0.8, n=500)]).surrogate == "power_law"


def test_cv_folds_keep_seed_repeats_of_a_mixture_together():
    X = np.random.default_rng(0).dirichlet(np.ones(4), size=20)
    repeats = X[[0, 0, 3, 7, 7, 7]] + np.random.default_rng(1).uniform(-4e-4, 4e-4, size=(6, 4))
    X_all = np.vstack([X, repeats])
    groups = mixture_groups(X_all)
    assert len(np.unique(groups)) == 20
    for seed in range(5):
        folds = grouped_folds(X_all, 5, seed)
        assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(26))
        for train, test in folds:
            assert not set(groups[train]) & set(groups[test])
        assert max(len(t) for _, t in folds) - min(len(t) for _, t in folds) <= 4  # a repeat group of 4 may tip one
    assert [t.tolist() for _, t in grouped_folds(X_all, 5, 3)] == [t.tolist() for _, t in grouped_folds(X_all, 5, 3)]


def test_a_model_with_as_many_parameters_as_distinct_mixtures_is_underdetermined():
    X = np.random.default_rng(0).dirichlet(np.ones(4), size=10)  # mixing law: 4 + 2 parameters
    cands = {name: make_surrogate(name) for name in ("mixing_law", "gp", "sqrt_linear", "ensemble")}
    cands["gp_law_ensemble"] = EnsembleSurrogate(members=("gp", "mixing_law"))  # falls back to its GP
    cands["law_ensemble"] = EnsembleSurrogate(members=("mixing_law", "power_law"))  # 6 and 4 + 4 parameters
    six_mixtures = np.vstack([X[:6], X[[0, 1]]])  # 8 runs, two of them seed repeats
    assert underdetermined(cands, six_mixtures) == {"mixing_law": "6 parameters from 6 distinct mixtures",
                                                    "law_ensemble": "8 parameters from 6 distinct mixtures"}
    assert underdetermined(cands, X) == {}


def test_cv_of_one_repeated_mixture_says_why_it_cannot_split():
    with pytest.raises(ValueError, match="at least 2 distinct mixtures"):
        grouped_folds(np.full((6, 3), 1 / 3), 5, 0)


@pytest.mark.parametrize("name", ALL)
def test_std_covers_held_out_errors_roughly_as_a_normal_would(name, data, fitted):
    _, _, X_test, y_test = data
    mean, std = fitted[name].predict(X_test, return_std=True)
    within2 = np.mean(np.abs(mean - y_test) <= 2 * std)
    assert within2 >= 0.75, f"{name}: only {within2:.0%} of held-out runs within +-2 std"
    assert np.median(std) < 0.5 * np.std(y_test)  # and it is not just a huge band
