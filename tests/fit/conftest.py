"""Fixtures of the fit tests: runs tables from known functions of Dirichlet weights (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from automixer.runs_table import OPTIMUM, parse_runs, synthetic_runs


@pytest.fixture(scope="session")
def runs60() -> pa.Table:
    """60 runs over code, stem, math, synth.qa with metric/code, metric/math, metric/loss."""
    return synthetic_runs(60, seed=0)


@pytest.fixture(scope="session")
def parsed60(runs60):
    return parse_runs(runs60, "runs60")


@pytest.fixture
def runs_csv(tmp_path, runs60):
    """A 40-run CSV with two metrics (keeps the CLI tests quick)."""
    path = tmp_path / "runs.csv"
    table = synthetic_runs(40, seed=3).drop_columns(["metric/math"])
    pcsv.write_csv(table, path)
    return path


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
