"""scikit-learn's own estimator checks on every surrogate.

The GP, mixing-law and ensemble checks are the slow part (about a minute on 2 cores).
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from automixer.mixing.surrogates import make_surrogate


@parametrize_with_checks([make_surrogate(n) for n in ("lightgbm", "linear", "loglinear")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([make_surrogate(n) for n in ("gp", "mixing_law", "ensemble")])
def test_sklearn_estimator_checks_slow_models(estimator, check):
    check(estimator)
