"""``automixer sql``'s sandbox: a query may read the catalog and the workdir's Parquet files, nothing else.

It uses DuckDB's own switches, not a SQL parser of ours:
- the catalog is opened read-only;
- ``enable_external_access = false`` with ``allowed_paths`` = the catalog and the workdir's ``*.parquet`` files
  (what the catalog's views read), so ``read_text('/etc/passwd')``, ``glob('/root/*')``, ``ATTACH`` of
  another database or ``COPY TO`` anywhere else fail;
- no extension is installed or loaded on demand, and ``lock_configuration`` keeps a query from undoing this;
- DuckDB grants the allowed paths for writing as much as for reading (``COPY ... TO`` a shard would succeed), so
  only statements that DuckDB's parser classifies as SELECT run (``DESCRIBE``, ``SHOW``, ``SUMMARIZE`` are SELECTs).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from automixer.catalog import Catalog, arrow_result
from dataplane.errors import AutomixerError

_LOCKDOWN = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET lock_configuration = true",
)
EXAMPLE = 'automixer sql -w runs/demo "SELECT * FROM ledger LIMIT 5"'


def readable_files(workdir: Path) -> list[str]:
    """The files a sandboxed query may read besides the catalog: the workdir's Parquet files, resolved."""
    return sorted({str(p.resolve()) for p in Path(workdir).rglob("*.parquet") if p.is_file()})


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def open_sandbox(workdir: Path | str) -> Catalog:
    """The workdir's catalog, read-only, on a connection locked down as the module docstring says."""
    catalog = Catalog(workdir, read_only=True)
    files = readable_files(catalog.workdir)
    if files:
        catalog.con.execute(f"SET allowed_paths = {_sql_list(files)}")
    for statement in _LOCKDOWN:
        catalog.con.execute(statement)
    return catalog


def run_select(catalog: Catalog, sql: str) -> list[pa.Table]:
    """Run every statement of ``sql`` (each must be a SELECT) and return their results in order."""
    try:
        statements = catalog.con.extract_statements(sql)
    except duckdb.Error as exc:
        raise AutomixerError(f"query failed: {_first_line(exc)}") from None
    if not statements:
        raise AutomixerError(f"no SQL statement given; e.g. {EXAMPLE}")
    for statement in statements:
        if statement.type != duckdb.StatementType.SELECT:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise AutomixerError(f"only SELECT queries run here (the catalog is read-only); got a {kind} statement")
    results = []
    for statement in statements:
        try:
            results.append(arrow_result(catalog.con.sql(statement.query)))
        except duckdb.Error as exc:
            raise AutomixerError(f"query failed: {_first_line(exc)}{_hint(exc)}") from None
    return results


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _hint(exc: Exception) -> str:
    if not isinstance(exc, duckdb.PermissionException):
        return ""
    hint = " (automixer sql reads only the catalog and the workdir's Parquet files"
    if ".parquet" in str(exc):  # a view names shards by absolute path: outside means another workdir's
        hint += "; a view reading Parquet files elsewhere was made in a workdir that has since moved or been copied"
    return hint + ")"
