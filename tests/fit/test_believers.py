"""sweep --next's believers: the linearised power law and the GP predict what conditioning on a pick does."""

import numpy as np
import pytest

from automixer.mixing.believers import BELIEVERS, LawBeliever
from automixer.mixing.surrogates import PowerLawSurrogate


def _law_runs(n, seed, noise=0.02):
    """Dirichlet mixtures of 5 components; y = 1 + 2 (30 e0 + 5 e1 + 1)^-0.5 + noise, e = w / (1 + w / 0.3)."""
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.full(5, 0.5), n)
    e = X / (1 + X / 0.3)
    return X, 1.0 + 2.0 * (30 * e[:, 0] + 5 * e[:, 1] + 1.0) ** -0.5 + rng.normal(0, noise, n)


def test_power_law_gradient_matches_finite_differences():
    X, y = _law_runs(40, 0)
    model = PowerLawSurrogate().fit(X, y)
    X_new = _law_runs(7, 1)[0]
    grad = model.gradient(X_new)
    base = model.predict(X_new)
    h = 1e-6
    moves = [("c_", lambda m: setattr(m, "c_", m.c_ + h))]
    moves += [
        (name, lambda m, name=name: setattr(m, name, getattr(m, name) * np.exp(h))) for name in ("k_", "alpha_", "tau_")
    ]
    for i in range(X.shape[1]):
        moves.append((f"a_{i}", lambda m, i=i: m.a_.__setitem__(i, m.a_[i] * np.exp(h))))
    for column, (name, move) in enumerate(moves):
        moved = PowerLawSurrogate().fit(X, y)
        move(moved)
        np.testing.assert_allclose(
            (moved.predict(X_new) - base) / h, grad[:, column], rtol=1e-3, atol=1e-6, err_msg=name
        )


@pytest.mark.parametrize("kind,rtol", [("power_law", 1e-6), ("gp", 0.05)])
def test_variance_reduction_is_what_conditioning_on_the_pick_removes(kind, rtol):
    X, y = _law_runs(30, 2)
    cand = _law_runs(40, 3)[0]
    ref = _law_runs(60, 4)[0]
    believer = BELIEVERS[kind](X, y, 0)
    mean, std = believer.predict(cand)
    predicted = believer.variance_reduction(cand, ref, std**2)
    pick = int(np.argmax(predicted))
    before = believer.predict(ref)[1] ** 2
    believer.add(cand[pick], mean[pick])
    after = believer.predict(ref)[1] ** 2
    assert (after <= before + 1e-12).all()
    np.testing.assert_allclose((before - after).sum(), predicted[pick], rtol=rtol)
    assert believer.predict(cand[pick : pick + 1])[1][0] < std[pick]  # the pick itself is now known better


def test_law_believer_is_surer_with_more_runs_and_noise_sets_its_floor():
    ref = _law_runs(50, 5)[0]
    few, many = (LawBeliever(*_law_runs(n, 6), 0) for n in (15, 120))
    std_few, std_many = few.predict(ref)[1], many.predict(ref)[1]
    assert std_many.mean() < std_few.mean()
    assert (std_many >= np.sqrt(many.noise) - 1e-12).all()  # never below the law's out-of-fold error
    assert np.sqrt(many.noise) < 0.05  # which is about the planted noise (0.02) on a law it can express
