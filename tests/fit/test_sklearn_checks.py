"""scikit-learn's own estimator checks on every surrogate.

The GP, mixing-law and ensemble checks take about 90 s: they run with AUTOMIXER_SLOW=1 only.
"""

from __future__ import annotations

import os

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from automixer.surrogates import make_surrogate


@parametrize_with_checks([make_surrogate(n) for n in ("lightgbm", "linear", "loglinear")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("AUTOMIXER_SLOW") != "1", reason="slow: set AUTOMIXER_SLOW=1")
@parametrize_with_checks([make_surrogate(n) for n in ("gp", "mixing_law", "ensemble")])
def test_sklearn_estimator_checks_slow_models(estimator, check):
    check(estimator)
