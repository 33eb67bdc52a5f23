"""``automixer predict``: add predicted ``pred/<metric>`` (and ``std/<metric>``) columns to a table of mixtures."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from automixer.mixing.columns import METRIC
from automixer.mixing.runs_table import parse_weights, read_table_file
from automixer.mixing.surrogates import SurrogateSet
from dataplane.errors import InputError
from dataplane.store import ensure_dir, write_parquet


def run_predict(surrogate_dir, mixtures_file, out_file) -> str:
    """Add ``pred/<metric>`` (and ``std/<metric>``) columns to a table of ``mix/*`` columns."""
    sset = SurrogateSet.load(surrogate_dir)
    table = read_table_file(mixtures_file)
    if table.num_rows == 0:
        raise InputError(f"{mixtures_file}: no mixtures (the table has no rows)")
    components, X = parse_weights(table, str(mixtures_file))  # the same checks and rounding warning as fit --runs
    sset.check_components(components, str(mixtures_file))
    X = X[:, [components.index(c) for c in sset.components]]
    for metric, (mean, std) in sset.predict(X).items():
        name = metric[len(METRIC):]
        table = table.append_column(f"pred/{name}", pa.array(mean))
        if std is not None:
            table = table.append_column(f"std/{name}", pa.array(std))
    _write_table(table, Path(out_file))
    return f"predict: {table.num_rows} mixtures x {len(sset.targets)} metrics -> {out_file}"


def _write_table(table: pa.Table, path: Path) -> None:
    ensure_dir(path.parent, "predict --out folder")
    if path.suffix.lower() == ".parquet":
        write_parquet(path, table)
    elif path.suffix.lower() == ".csv":
        pcsv.write_csv(table, path)
    else:
        raise InputError(f"{path}: unknown output type {path.suffix!r}; expected .csv or .parquet")
