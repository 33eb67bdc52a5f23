"""``automixer predict``: add predicted ``pred/<metric>`` (and ``std/<metric>``) columns to a table of mixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from automixer.mixing.columns import METRIC, MIX
from automixer.mixing.runs_table import read_table_file
from automixer.mixing.surrogates import SurrogateSet
from dataplane.errors import InputError
from dataplane.store import write_parquet


def run_predict(surrogate_dir, mixtures_file, out_file) -> str:
    """Add ``pred/<metric>`` (and ``std/<metric>``) columns to a table of ``mix/*`` columns."""
    sset = SurrogateSet.load(surrogate_dir)
    table = read_table_file(mixtures_file)
    mix_cols = [c for c in table.column_names if c.startswith(MIX)]
    extra = sorted(set(mix_cols) - {MIX + c for c in sset.components})
    missing = [MIX + c for c in sset.components if MIX + c not in mix_cols]
    if extra or missing:
        raise InputError(f"{mixtures_file}: mix/* columns must be exactly {', '.join(MIX + c for c in sset.components)}; "
                         f"unknown: {', '.join(extra) or '-'}; missing: {', '.join(missing) or '-'}")
    X = np.column_stack([np.asarray(table.column(MIX + c).to_numpy(zero_copy_only=False), float) for c in sset.components])
    if not np.isfinite(X).all() or (X < 0).any() or (np.abs(X.sum(1) - 1) > 1e-3).any():
        raise InputError(f"{mixtures_file}: mix/* weights must be >= 0 and sum to 1 in every row")
    for metric, (mean, std) in sset.predict(X / X.sum(1, keepdims=True)).items():
        name = metric[len(METRIC):]
        table = table.append_column(f"pred/{name}", pa.array(mean))
        if std is not None:
            table = table.append_column(f"std/{name}", pa.array(std))
    _write_table(table, Path(out_file))
    return f"predict: {table.num_rows} mixtures x {len(sset.targets)} metrics -> {out_file}"


def _write_table(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        write_parquet(path, table)
    elif path.suffix.lower() == ".csv":
        pcsv.write_csv(table, path)
    else:
        raise InputError(f"{path}: unknown output type {path.suffix!r}; expected .csv or .parquet")
