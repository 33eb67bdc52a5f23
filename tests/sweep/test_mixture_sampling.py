"""Mixture sampling: simplex, bounds, determinism, coverage."""

from __future__ import annotations

import numpy as np
import pytest

from automixer.mixing.sampling import project_to_bounds, sample_mixtures, space_filling

NATURAL = {"code": 0.5, "math": 0.3, "stem": 0.15, "synth.qa": 0.05}


def _matrix(mixtures):
    return np.array([[m[c] for c in NATURAL] for m in mixtures])


def test_same_seed_same_mixtures_other_seed_differs():
    a = sample_mixtures(NATURAL, 12, seed=7)
    assert a == sample_mixtures(NATURAL, 12, seed=7)
    assert a != sample_mixtures(NATURAL, 12, seed=8)


def test_mixtures_lie_on_the_simplex_and_respect_bounds():
    lo, hi = {"synth.qa": 0.1}, {"code": 0.4, "math": 0.35}
    w = _matrix(sample_mixtures(NATURAL, 40, min_weight=lo, max_weight=hi, seed=0))
    assert np.allclose(w.sum(1), 1) and (w >= 0).all()
    assert (w[:, 3] >= 0.1 - 1e-12).all() and (w[:, 0] <= 0.4 + 1e-12).all() and (w[:, 1] <= 0.35 + 1e-12).all()


def test_first_mixture_is_natural_and_draws_centre_on_it():
    w = _matrix(sample_mixtures(NATURAL, 200, concentrations=(3.0,), space_filling_share=0.0, seed=1))
    assert np.allclose(w[0], list(NATURAL.values()))
    assert np.allclose(w[1:].mean(0), list(NATURAL.values()), atol=0.05)


def test_space_filling_design_covers_every_corner_region():
    w = space_filling(3, 64, np.random.default_rng(0))
    assert np.allclose(w.sum(1), 1)
    assert all((w[:, i] > 0.6).any() for i in range(3))  # some point near each vertex


def test_unknown_or_infeasible_bounds_are_named():
    with pytest.raises(ValueError, match="unknown component 'web'"):
        sample_mixtures(NATURAL, 3, min_weight={"web": 0.1})
    with pytest.raises(ValueError, match="infeasible"):
        sample_mixtures(NATURAL, 3, max_weight={c: 0.2 for c in NATURAL})


def test_projection_shares_the_residual_by_headroom():
    w = project_to_bounds(np.array([0.9, 0.1, 0.0]), np.array([0, 0, 0.2]), np.array([0.5, 1, 1]))
    assert np.isclose(w.sum(), 1) and w[0] <= 0.5 + 1e-12 and w[2] >= 0.2 - 1e-12
