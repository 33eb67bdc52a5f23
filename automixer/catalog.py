"""The DuckDB catalog of a workdir (``<workdir>/catalog.duckdb``).

What it holds:
- views ``<stage>_<kind>`` over the finished shards of each stage (no copy of the text), e.g.
  ``curate_kept``, ``curate_filtered``, ``curate_quarantine``, ``dedup_kept``, ``dedup_duplicates``;
- ``ledger``: per stage, source, bucket, outcome (in, kept, filtered, duplicate, quarantined, ...) and
  reason: documents, tokens, bytes. A stage replaces its own rows, so a resumed run counts once;
- ``stage_runs``: one row per stage run (wall time, status, config hash);
- tables written by later stages (``proxy_runs``, ``surrogate_scores``, ...).

Only the driver process writes the catalog; workers write shards.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pyarrow as pa

from dataplane.errors import AutomixerError
from dataplane.store import StageStore, ensure_dir

CATALOG_NAME = "catalog.duckdb"

LEDGER_SCHEMA = pa.schema(
    [
        ("stage", pa.string()),
        ("source", pa.string()),
        ("bucket", pa.int32()),
        ("outcome", pa.string()),
        ("reason", pa.string()),
        ("docs", pa.int64()),
        ("tokens", pa.int64()),
        ("bytes", pa.int64()),
    ]
)

_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS ledger (
    stage VARCHAR, source VARCHAR, bucket INTEGER, outcome VARCHAR, reason VARCHAR,
    docs BIGINT, tokens BIGINT, bytes BIGINT)
"""
_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS stage_runs (
    stage VARCHAR, started_at TIMESTAMP, wall_s DOUBLE, status VARCHAR, config_hash VARCHAR, detail VARCHAR)
"""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Catalog:
    """Read-write handle on a workdir's catalog. Use as a context manager."""

    def __init__(self, workdir: Path | str, read_only: bool = False):
        self.workdir = Path(workdir)
        self.path = self.workdir / CATALOG_NAME
        if read_only and not self.path.exists():
            raise AutomixerError(f"no catalog at {self.path}: run a stage first (e.g. automixer curate CONFIG)")
        if not read_only:
            ensure_dir(self.workdir, "workdir")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:  # not a DuckDB file, or another process holds its write lock
            reason = str(exc).strip().splitlines()[0]
            hint = "; another automixer command is writing it: try again when it has finished" \
                if "Could not set lock" in reason else ""
            raise AutomixerError(f"{self.path}: cannot open the catalog: {reason}{hint}") from None
        if not read_only:
            self.con.execute(_LEDGER_DDL)
            self.con.execute(_RUNS_DDL)

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # --- views over shards -------------------------------------------------------------------
    def register_stage(self, store: StageStore, kinds: Iterable[str] | None = None) -> list[str]:
        """(Re)create one view per shard kind of a finished stage; return the view names."""
        units = store.done_units().values()
        all_kinds = sorted({k for u in units for k in u["files"]})
        names = []
        for kind in kinds or all_kinds:
            files = [str(p.resolve()) for p in store.files(kind)]
            view = f"{store.stage}_{kind}"
            if not files:
                self.con.execute(f"DROP VIEW IF EXISTS {_quote(view)}")
                continue
            file_list = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
            self.con.execute(
                f"CREATE OR REPLACE VIEW {_quote(view)} AS "
                f"SELECT * FROM read_parquet({file_list}, union_by_name=true)"
            )
            names.append(view)
        return names

    def create_view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS {sql}")

    def has_relation(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()  # fetchall, not fetchone: DuckDB 2 keeps a half-read result pending
        return bool(rows and rows[0][0])

    # --- tables ------------------------------------------------------------------------------
    def replace_ledger(self, stage: str, rows: pa.Table) -> None:
        """Replace the ledger rows of ``stage`` with ``rows`` (LEDGER_SCHEMA columns, stage filled in)."""
        rows = rows.select(LEDGER_SCHEMA.names).cast(LEDGER_SCHEMA)
        self.con.execute("BEGIN")
        self.con.execute("DELETE FROM ledger WHERE stage = ?", [stage])
        self.con.register("_new_ledger", rows)
        self.con.execute("INSERT INTO ledger SELECT * FROM _new_ledger")
        self.con.unregister("_new_ledger")
        self.con.execute("COMMIT")

    def write_table(self, name: str, table: pa.Table) -> None:
        """Create or replace a table from an Arrow table."""
        self.con.register("_new_table", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {_quote(name)} AS SELECT * FROM _new_table")
        self.con.unregister("_new_table")

    def record_stage_run(
        self, stage: str, started: float, status: str, config_hash: str = "", detail: dict | None = None
    ) -> None:
        self.con.execute(
            "INSERT INTO stage_runs VALUES (?, to_timestamp(?), ?, ?, ?, ?)",
            [stage, started, time.time() - started, status, config_hash, json.dumps(detail or {}, sort_keys=True)],
        )

    # --- queries -----------------------------------------------------------------------------
    def query(self, sql: str, params: list | None = None) -> pa.Table:
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        if rel is None:  # a statement without a result set
            return pa.table({})
        return arrow_result(rel)


def arrow_result(result) -> pa.Table:
    """A DuckDB relation or result as an Arrow table (the method name differs across DuckDB versions)."""
    fetch = getattr(result, "to_arrow_table", None) or getattr(result, "arrow")
    return fetch()


def ledger_rows(records: Iterable[dict[str, Any]], stage: str) -> pa.Table:
    """Aggregate ledger records (dicts with source, bucket, outcome, reason, docs, tokens, bytes)."""
    totals: dict[tuple, list[int]] = {}
    for r in records:
        key = (r["source"], r.get("bucket"), r["outcome"], r.get("reason"))
        acc = totals.setdefault(key, [0, 0, 0])
        acc[0] += int(r.get("docs", 0))
        acc[1] += int(r.get("tokens", 0))
        acc[2] += int(r.get("bytes", 0))
    keys = sorted(totals, key=lambda k: tuple("" if v is None else str(v) for v in k))
    return pa.table(
        {
            "stage": [stage] * len(keys),
            "source": [k[0] for k in keys],
            "bucket": pa.array([k[1] for k in keys], pa.int32()),
            "outcome": [k[2] for k in keys],
            "reason": pa.array([k[3] for k in keys], pa.string()),
            "docs": pa.array([totals[k][0] for k in keys], pa.int64()),
            "tokens": pa.array([totals[k][1] for k in keys], pa.int64()),
            "bytes": pa.array([totals[k][2] for k in keys], pa.int64()),
        },
        schema=LEDGER_SCHEMA,
    )


def ledger_from_docs(table: pa.Table, outcome: str, reason_column: str | None = None) -> list[dict[str, Any]]:
    """Ledger records for a table of documents (grouped by source, bucket and reason)."""
    if table is None or table.num_rows == 0:
        return []
    cols = ["source", "bucket", "n_tokens", "n_bytes"]
    if reason_column:
        cols.append(reason_column)
    con = duckdb.connect()
    con.register("t", table.select(cols))
    reason = reason_column if reason_column else "NULL"
    rows = con.execute(
        f"SELECT source, bucket, {reason} AS reason, count(*), sum(n_tokens), sum(n_bytes) FROM t GROUP BY ALL"
    ).fetchall()
    con.close()
    return [
        {"source": s, "bucket": b, "outcome": outcome, "reason": r, "docs": n, "tokens": tok or 0, "bytes": by or 0}
        for s, b, r, n, tok, by in rows
    ]


STATS_SQL = """
SELECT {keys},
  CAST(sum(docs) FILTER (WHERE outcome = 'in') AS BIGINT) AS docs_in,
  CAST(sum(docs) FILTER (WHERE outcome = 'kept') AS BIGINT) AS kept,
  CAST(sum(docs) FILTER (WHERE outcome = 'filtered') AS BIGINT) AS filtered,
  CAST(sum(docs) FILTER (WHERE outcome = 'duplicate') AS BIGINT) AS duplicates,
  CAST(sum(docs) FILTER (WHERE outcome = 'quarantined') AS BIGINT) AS quarantined,
  CAST(sum(docs) FILTER (WHERE outcome = 'synthetic') AS BIGINT) AS synthetic,
  CAST(sum(docs) FILTER (WHERE outcome = 'rejected') AS BIGINT) AS rejected,
  CAST(sum(tokens) FILTER (WHERE outcome = 'in') AS BIGINT) AS tokens_in,
  CAST(sum(tokens) FILTER (WHERE outcome IN ('kept', 'synthetic')) AS BIGINT) AS tokens_kept
FROM ledger {where}
GROUP BY ALL ORDER BY ALL
"""

STATS_KEYS = ("stage", "source", "bucket", "outcome", "reason")


def stats_query(by: list[str], stage: str | None = None) -> tuple[str, list]:
    """SQL for ``automixer stats``: ledger pivoted by the ``by`` keys (always per stage)."""
    bad = [k for k in by if k not in STATS_KEYS]
    if bad:
        raise AutomixerError(f"unknown --by key {bad[0]!r}; expected some of {', '.join(STATS_KEYS)}")
    keys = ["stage"] + [k for k in by if k != "stage"]
    where, params = ("WHERE stage = ?", [stage]) if stage else ("", [])
    return STATS_SQL.format(keys=", ".join(keys), where=where), params
