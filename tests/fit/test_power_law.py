"""The power-law surrogate recovers a known law in the effective amount of relevant data."""

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from automixer.mixing.surrogates import EnsembleSurrogate, PowerLawSurrogate, load_surrogate, save_surrogate
from automixer.mixing.surrogates._power_law import saturated


def _law_runs(n, seed, noise=0.01, tau=None):
    """Sparse Dirichlet mixtures of 6 components; y = 1 + 2 (40 e0 + 5 e1 + 1)^-0.5 + noise, where e = w, or
    e = w / (1 + w / tau) when a weight past tau brings less and less (repeated data)."""
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.full(6, 0.3), n)
    e = X if tau is None else X / (1 + X / tau)
    y = 1.0 + 2.0 * (40 * e[:, 0] + 5 * e[:, 1] + 1.0) ** -0.5 + rng.normal(0, noise, n)
    return X, y


def test_recovers_the_law_and_ranks_unseen_mixtures():
    X, y = _law_runs(60, 0)
    X_test, y_test = _law_runs(200, 1, noise=0.0)
    model = PowerLawSurrogate().fit(X, y)
    assert model.a_[0] > 4 * model.a_[1] > 4 * max(model.a_[2:])  # the relevant component counts most
    assert 0.25 < model.alpha_ < 1.0
    assert spearmanr(model.predict(X_test), y_test).statistic > 0.97


@pytest.mark.parametrize("tau", [0.1, 0.3])
def test_recovers_where_returns_diminish(tau):
    X, y = _law_runs(60, 0, tau=tau)
    X_test, y_test = _law_runs(200, 1, noise=0.0, tau=tau)
    model = PowerLawSurrogate().fit(X, y)
    assert 0.8 * tau < model.tau_ < 1.25 * tau
    assert spearmanr(model.predict(X_test), y_test).statistic > 0.99


def test_no_saturation_in_the_data_gives_a_far_saturation_point():
    assert PowerLawSurrogate().fit(*_law_runs(60, 0)).tau_ > 3  # beyond any weight: e = w


def test_saturation_of_an_underflowed_tau_keeps_zero_weights_zero():
    X = np.array([[0.0, 0.3, 0.7]])
    np.testing.assert_allclose(saturated(X, 0.0), [[0.0, 1e-12, 1e-12]], rtol=1e-6)
    np.testing.assert_allclose(saturated(X, 0.3), [[0.0, 0.15, 0.21]])


def test_a_metric_that_rises_with_relevant_data_gets_the_other_sign():
    X, y = _law_runs(60, 0)
    X_test, y_test = _law_runs(100, 1, noise=0.0)
    model = PowerLawSurrogate().fit(X, -y)
    assert PowerLawSurrogate().fit(X, y).k_ > 0 > model.k_  # falls with relevant data vs rises with it
    assert spearmanr(model.predict(X_test), -y_test).statistic > 0.97


def test_std_is_the_inner_out_of_fold_error_and_survives_save_load(tmp_path):
    X, y = _law_runs(40, 2)
    model = PowerLawSurrogate().fit(X, y)
    mean, std = model.predict(X[:5], return_std=True)
    assert np.allclose(std, np.sqrt(np.mean((model.oof_pred_ - y) ** 2)))
    assert 0 < std[0] < y.std()
    loaded = load_surrogate(save_surrogate(model, tmp_path / "m"))
    mean2, std2 = loaded.predict(X[:5], return_std=True)
    np.testing.assert_allclose(mean2, mean)
    np.testing.assert_allclose(std2, std)


def test_a_law_saved_before_the_saturation_loads_as_the_plain_law(tmp_path):
    X, y = _law_runs(40, 2)
    model = PowerLawSurrogate().fit(X, y)
    folder = save_surrogate(model, tmp_path / "m")
    meta = json.loads((folder / "model.json").read_text())
    del meta["state"]["tau"]
    (folder / "model.json").write_text(json.dumps(meta))
    plain = model.c_ + model.k_ * (X @ model.a_ + 1.0) ** -model.alpha_
    np.testing.assert_allclose(load_surrogate(folder).predict(X), plain)


@pytest.mark.parametrize("n_mixtures, fitted", [(8, ["gp"]), (30, ["gp", "power_law"])])
def test_ensemble_leaves_out_a_member_with_too_many_parameters(n_mixtures, fitted):
    X, y = _law_runs(n_mixtures, 3)  # power_law has 6 + 4 = 10 parameters
    model = EnsembleSurrogate().fit(X, y)
    assert model.member_names_ == fitted
    assert np.isclose(model.weights_.sum(), 1.0)
