"""Partitioned Parquet files: the shuffles of the chain.

A task writes its rows to ``<dir>/<partition>/<task name>.parquet``, one file per partition it has
rows for; the task of a partition then reads every file of ``<dir>/<partition>/``. Partition folders
are listed by the reading task, never by the driver. Files are written atomically, so a reader never
sees a half-written one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataplane.store import atomic_path


def write_scratch(path: Path | str, table: pa.Table, compression: str = "none") -> Path:
    """Write an intermediate file of the chain, atomically (uncompressed: hashes do not compress)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=compression)
    return Path(path)


def write_parts(table: pa.Table, part: np.ndarray, folder: Path | str, name: str) -> int:
    """Write the rows of ``table`` with partition ``part[i]`` to <folder>/<part>/<name>.parquet.

    Returns the number of files written."""
    if table.num_rows == 0:
        return 0
    order = np.argsort(part, kind="stable")
    part = part[order]
    table = table.take(pa.array(order))
    starts = np.flatnonzero(np.concatenate(([True], part[1:] != part[:-1])))
    ends = np.append(starts[1:], part.size)
    for start, end in zip(starts.tolist(), ends.tolist()):
        write_scratch(Path(folder) / str(int(part[start])) / f"{name}.parquet", table.slice(start, end - start))
    return len(starts)


def read_part(folder: Path | str, part: int, schema: pa.Schema) -> pa.Table:
    """All rows written to partition ``part`` of ``folder`` (an empty table when none)."""
    files = sorted((Path(folder) / str(part)).glob("*.parquet"))
    if not files:
        return schema.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=schema) for f in files])
