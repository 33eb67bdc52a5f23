"""Reading the runs table (``mix/<component>`` weights, ``metric/<name>`` values) and the components table.

Contract (docs/RUNS_TABLE.md): other columns are ignored; a ``status`` column, if present, keeps only
``ok`` rows; weights are non-negative and each row sums to 1. Rows off by float noise (1e-3) are
renormalised silently; rows off by what rounding of the printed weights explains (``rounding_tolerance``)
are renormalised with one warning; anything more is an error naming the row.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from automixer.mixing.columns import EXPERT_TAG, METRIC, MIX
from automixer.mixing.metrics import directions_metadata, recorded_directions
from dataplane.errors import InputError, StageError


@dataclass
class Runs:
    """Runs parsed from a runs table. Shapes: N runs, C components."""

    components: list[str]
    X_NC: np.ndarray
    metrics: dict[str, np.ndarray]
    """metric column -> values (NaN where a run has none)."""
    source: str
    run_ids: list[str] = field(default_factory=list)
    directions: dict[str, bool] = field(default_factory=dict)
    """metric -> higher is better, as the run recorded it ({} when it did not; automixer.mixing.metrics)."""

    @property
    def num_runs(self) -> int:
        return len(self.X_NC)

    def fingerprint(self) -> str:
        """``table_fingerprint`` of ``to_table()``: the table ``fit`` saves beside its surrogates."""
        return table_fingerprint(self.to_table())

    def to_table(self) -> pa.Table:
        cols = {"run_id": self.run_ids} if self.run_ids else {}
        cols.update({MIX + c: self.X_NC[:, i] for i, c in enumerate(self.components)})
        cols.update(self.metrics)
        table = pa.table(cols)
        return table.replace_schema_metadata(directions_metadata(self.directions)) if self.directions else table


def table_fingerprint(table: pa.Table) -> str:
    """sha256 of a runs table's ``mix/*`` and ``metric/*`` columns (names and float64 values, by name), so the
    same runs give the same fingerprint whatever other columns or column order the file has."""
    names = sorted(c for c in set(table.column_names) if c.startswith((MIX, METRIC)))
    digest = hashlib.sha256(json.dumps([names, table.num_rows]).encode())
    for name in names:
        values = table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
        digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return digest.hexdigest()


def parse_runs(table: pa.Table, source: str) -> Runs:
    """Validate a runs table and pull out weights and metrics; errors name ``source`` and the column."""
    _check_unique_columns(table, source)
    if "status" in table.column_names:
        keep = np.asarray([s == "ok" for s in table.column("status").to_pylist()])
        table = table.filter(pa.array(keep))
    if "tag" in table.column_names:  # the sweep's data experts are not sampled mixtures
        table = table.filter(pa.array(np.asarray([t != EXPERT_TAG for t in table.column("tag").to_pylist()], bool)))
    metric_cols = [c for c in table.column_names if c.startswith(METRIC)]
    if not metric_cols:
        raise InputError(f"{source}: no metric/<name> columns; columns are: {', '.join(table.column_names)}")
    if table.num_rows == 0:
        raise InputError(f"{source}: no runs (rows with status 'ok')")
    components, X_NC = parse_weights(table, source)
    metrics = {c: _numeric(table, c, source) for c in metric_cols}
    run_ids = [str(v) for v in table.column("run_id").to_pylist()] if "run_id" in table.column_names else []
    directions = recorded_directions(table.schema.metadata, metric_cols)
    return Runs(components, X_NC, metrics, source, run_ids, directions)


def parse_weights(table: pa.Table, source: str) -> tuple[list[str], np.ndarray]:
    """The components and the (N, C) weights of a table's ``mix/*`` columns, each row renormalised to sum to 1
    (rows off by rounding with one warning, more than that an error). Errors name ``source`` and the column."""
    _check_unique_columns(table, source)
    mix_cols = [c for c in table.column_names if c.startswith(MIX)]
    if not mix_cols:
        raise InputError(f"{source}: no mix/<component> columns; columns are: {', '.join(table.column_names)}")
    X = np.column_stack([_numeric(table, c, source) for c in mix_cols])
    bad = np.argwhere(~np.isfinite(X) | (X < 0))
    if len(bad):
        row, col = bad[0]
        raise InputError(f"{source}: column {mix_cols[col]} row {row}: weight must be a number >= 0, got {X[row, col]}")
    sums = X.sum(axis=1)
    _check_sums(sums, X, source)
    return [c[len(MIX):] for c in mix_cols], X / sums[:, None]


def _check_unique_columns(table: pa.Table, source: str) -> None:
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise InputError(f"{source}: column {name} appears {table.column_names.count(name)} times; "
                             "every column name must be unique")
        seen.add(name)


FLOAT_NOISE = 1e-3
"""Rows whose weights sum to 1 within this are renormalised without a word."""
_MAX_ROUNDED_DECIMALS = 6


def printed_decimals(X: np.ndarray) -> int | None:
    """Fewest decimals that reproduce every weight (e.g. 3 for a CSV rounded to 0.001); None if over 6."""
    for d in range(_MAX_ROUNDED_DECIMALS + 1):
        if np.all(np.abs(np.round(X, d) - X) < 1e-9):
            return d
    return None


def rounding_tolerance(X: np.ndarray) -> float:
    """How far from 1 a row's sum may be from rounding alone: components x half the last printed digit
    (weights printed with at most 6 decimals), else 1%."""
    d = printed_decimals(X)
    if d is None:
        return 0.01
    return max(X.shape[1] * 0.5 * 10.0**-d, FLOAT_NOISE)


def _check_sums(sums: np.ndarray, X: np.ndarray, source: str) -> None:
    """Error naming the first row off by more than rounding explains; one warning for rounded rows."""
    off = np.abs(sums - 1.0)
    tol = rounding_tolerance(X)
    bad = np.flatnonzero(off > tol)
    if len(bad):
        raise InputError(f"{source}: row {bad[0]}: mix/* weights sum to {sums[bad[0]]:.6g}, expected 1 "
                         f"(rounding of the printed weights explains at most +-{tol:.3g})")
    rounded = int((off > FLOAT_NOISE).sum())
    if rounded:
        warnings.warn(f"{source}: {rounded} rows have mix/* weights summing to 1 only within rounding "
                      f"(up to +-{off.max():.3g}, tolerance {tol:.3g}); they were renormalised to sum to 1. "
                      "Write the weights with more decimals to silence this.", stacklevel=3)


def _numeric(table: pa.Table, column: str, source: str) -> np.ndarray:
    col = table.column(column)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type)):
        raise InputError(f"{source}: column {column} must be numeric, got {col.type}")
    return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def read_table_file(path: Path | str) -> pa.Table:
    """Read a CSV or Parquet file as an Arrow table."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix in (".csv", ".tsv"):
            import pyarrow.csv as pcsv

            opts = pcsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            return pcsv.read_csv(path, parse_options=opts)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None
    raise InputError(f"{path}: unknown file type {suffix!r}; expected .csv, .tsv or .parquet")


def read_runs_file(path: Path | str) -> Runs:
    """Runs from a CSV or Parquet runs table."""
    return parse_runs(read_table_file(path), str(path))


def read_runs_workdir(workdir: Path | str) -> Runs:
    """Runs from the catalog table ``proxy_runs`` (or ``<workdir>/sweep/runs.parquet``)."""
    from automixer.catalog import Catalog

    workdir = Path(workdir)
    if (workdir / "catalog.duckdb").exists():
        with Catalog(workdir, read_only=True) as catalog:
            if catalog.has_relation("proxy_runs"):
                runs = parse_runs(catalog.query("SELECT * FROM proxy_runs"), f"{workdir}/catalog.duckdb:proxy_runs")
                if catalog.has_relation("metric_directions"):
                    recorded = {r["metric"]: bool(r["higher_is_better"])
                                for r in catalog.query("SELECT * FROM metric_directions").to_pylist()}
                    runs.directions = {m: recorded[m] for m in runs.metrics if m in recorded}
                return runs
    runs_file = workdir / "sweep" / "runs.parquet"
    if runs_file.exists():
        return read_runs_file(runs_file)
    raise StageError(f"no runs table in {workdir} (catalog table proxy_runs or sweep/runs.parquet): "
                     "run automixer sweep first, or pass --runs FILE")


def read_components(workdir: Path | str | None) -> dict[str, dict]:
    """Components contract rows by name (catalog table ``components`` or components/components.json); {} if none."""
    if workdir is None:
        return {}
    workdir = Path(workdir)
    rows: list[dict] = []
    if (workdir / "catalog.duckdb").exists():
        from automixer.catalog import Catalog

        with Catalog(workdir, read_only=True) as catalog:
            if catalog.has_relation("components"):
                rows = catalog.query("SELECT * FROM components").to_pylist()
    path = workdir / "components" / "components.json"
    if not rows and path.exists():
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            warnings.warn(f"{path}: not valid JSON ({exc}); component token counts unknown", stacklevel=2)
    return {str(r["component"]): _plain(r) for r in rows if "component" in r}


def _plain(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def synthetic_runs(num_runs: int, seed: int = 0, noise: float = 0.01) -> pa.Table:
    """A runs table from known functions of Dirichlet weights (tests, benchmarks).

    Components code, stem, math, synth.qa (natural 0.4/0.3/0.2/0.1). Metrics (lower is better):
    ``metric/code_loss`` and ``metric/math_loss`` saturate exponentially in their own component;
    ``metric/loss`` is a bowl with its minimum at w* = (0.35, 0.3, 0.25, 0.1).
    """
    rng = np.random.default_rng(seed)
    natural = np.array([0.4, 0.3, 0.2, 0.1])
    conc = rng.choice([0.5, 2.0, 8.0], size=num_runs)
    X = np.array([rng.dirichlet(natural * c * 4 + 0.05) for c in conc])
    code = 3.0 + 1.2 * np.exp(-3.0 * X[:, 0]) + 0.3 * X[:, 2]
    math = 3.0 + 1.0 * np.exp(-4.0 * X[:, 2] - 1.0 * X[:, 3])
    loss = 2.5 + 4.0 * ((X - OPTIMUM) ** 2).sum(axis=1)
    cols = {"run_id": [f"r{i:03d}" for i in range(num_runs)], "status": ["ok"] * num_runs}
    cols.update({f"{MIX}{c}": X[:, i] for i, c in enumerate(SYNTHETIC_COMPONENTS)})
    for name, y in (("code_loss", code), ("math_loss", math), ("loss", loss)):
        cols[f"{METRIC}{name}"] = y + noise * rng.standard_normal(num_runs)
    return pa.table(cols)


SYNTHETIC_COMPONENTS = ("code", "stem", "math", "synth.qa")
OPTIMUM = np.array([0.35, 0.3, 0.25, 0.1])
