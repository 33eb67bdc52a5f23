"""The runs-table contract: mix/* weights, metric/* values, other columns ignored, clear errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from automixer.mixing.runs_table import parse_runs, read_runs_file, read_runs_workdir
from dataplane.errors import InputError, StageError


def _table(**cols):
    base = {
        "run_id": ["a", "b", "c"],
        "mix/x": [0.5, 0.2, 1.0],
        "mix/y": [0.5, 0.8, 0.0],
        "metric/loss": [1.0, 2.0, 3.0],
    }
    base.update(cols)
    return pa.table({k: v for k, v in base.items() if v is not None})


def test_parses_weights_metrics_and_ignores_other_columns():
    runs = parse_runs(_table(note=["x", "y", "z"], status=["ok", "failed", "ok"]), "t")
    assert runs.components == ["x", "y"] and list(runs.metrics) == ["metric/loss"]
    assert runs.run_ids == ["a", "c"] and runs.X_NC.tolist() == [[0.5, 0.5], [1.0, 0.0]]


@pytest.mark.parametrize(
    "cols, match",
    [
        ({"mix/x": None, "mix/y": None}, "t: no mix/<component> columns; columns are: run_id, metric/loss"),
        ({"metric/loss": None}, "t: no metric/<name> columns"),
        ({"metric/loss": ["1", "2", "3"]}, "t: column metric/loss must be numeric, got string"),
        ({"mix/y": [0.5, 0.5, 0.0]}, r"t: row 1: mix/\* weights sum to 0.7, expected 1"),
        ({"mix/x": [0.5, -0.2, 1.0], "mix/y": [0.5, 1.2, 0.0]}, "t: column mix/x row 1: weight must be a number >= 0"),
    ],
)
def test_bad_tables_name_the_source_and_column(cols, match):
    with pytest.raises(InputError, match=match):
        parse_runs(_table(**cols), "t")


def test_reads_csv_and_parquet_alike(tmp_path):
    pq.write_table(_table(), tmp_path / "runs.parquet")
    (tmp_path / "runs.csv").write_text("mix/x,mix/y,metric/loss\n0.5,0.5,1\n0.2,0.8,2\n1,0,3\n")
    a, b = read_runs_file(tmp_path / "runs.parquet"), read_runs_file(tmp_path / "runs.csv")
    assert a.X_NC.tolist() == b.X_NC.tolist()
    with pytest.raises(InputError, match=r"runs.json: unknown file type '.json'; expected .csv, .tsv or .parquet"):
        (tmp_path / "runs.json").write_text("{}")
        read_runs_file(tmp_path / "runs.json")


def test_workdir_without_runs_says_what_to_run(tmp_path):
    with pytest.raises(StageError, match="run automixer sweep first, or pass --runs FILE"):
        read_runs_workdir(tmp_path)


def _rounded_csv(path, rows_NC, decimals=3):
    names = [f"d{i:02d}" for i in range(rows_NC.shape[1])]
    lines = [",".join(["run_id"] + [f"mix/{n}" for n in names] + ["metric/loss"])]
    for i, row in enumerate(rows_NC):
        lines.append(",".join([f"r{i}"] + [f"{w:.{decimals}f}" for w in row] + [f"{i * 0.1:.2f}"]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_rounded_to_3_decimals_is_renormalised_with_one_warning(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.full(24, 0.5), size=30)
    sums = X.round(3).sum(axis=1)
    assert (np.abs(sums - 1) > 1e-3).sum() >= 5  # the file really is off by more than float noise
    path = _rounded_csv(tmp_path / "rounded.csv", X)
    with pytest.warns(
        UserWarning, match=r"rounded.csv: \d+ rows have mix/\* weights summing to 1 only within rounding"
    ) as rec:
        runs = read_runs_file(path)
    assert len([w for w in rec if "within rounding" in str(w.message)]) == 1
    assert f"{int((np.abs(sums - 1) > 1e-3).sum())} rows" in str(rec[0].message)
    np.testing.assert_allclose(runs.X_NC.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(runs.X_NC, X.round(3) / sums[:, None])


def test_rounded_csv_off_by_more_than_rounding_names_the_row(tmp_path):
    X = np.random.default_rng(1).dirichlet(np.full(24, 0.5), size=10).round(3)
    X[4, 0] += 0.02  # 24 components x 0.0005 = 0.012 is what rounding explains
    with pytest.raises(InputError, match=r"bad.csv: row 4: mix/\* weights sum to 1.0[12]\d*, expected 1 \(rounding"):
        read_runs_file(_rounded_csv(tmp_path / "bad.csv", X))


def test_full_precision_weights_keep_the_float_noise_check_quiet(recwarn):
    runs = parse_runs(_table(**{"mix/x": [0.5, 0.2004, 1.0]}), "t")
    assert runs.X_NC.sum(axis=1).tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert not [w for w in recwarn if "rounding" in str(w.message)]
