"""Fixtures of the fit tests: runs tables from known functions of Dirichlet weights (fixed seeds)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from automixer.mixing.runs_table import parse_runs, synthetic_runs


@pytest.fixture(scope="session")
def runs60() -> pa.Table:
    """60 runs over code, stem, math, synth.qa with metric/code_loss, metric/math_loss, metric/loss."""
    return synthetic_runs(60, seed=0)


@pytest.fixture(scope="session")
def parsed60(runs60):
    return parse_runs(runs60, "runs60")


@pytest.fixture
def runs_csv(tmp_path, runs60):
    """A 40-run CSV with two metrics (keeps the CLI tests quick)."""
    path = tmp_path / "runs.csv"
    table = synthetic_runs(40, seed=3).drop_columns(["metric/math_loss"])
    pcsv.write_csv(table, path)
    return path
