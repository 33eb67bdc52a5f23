"""Reading sources: JSONL (plain, .gz, .zst), Parquet and folders of text files.

``plan_units`` resolves every source's paths and raises InputError for a missing file or an empty
source before any work starts. ``Ingest`` turns a table of (source, path) rows into raw documents and
quarantine rows: bad input never stops the run and never vanishes.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curation.config import CurationConfig, SourceConfig
from dataplane.errors import InputError
from dataplane.schema import QUARANTINE_SCHEMA

RAW_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("domain", pa.string()),
                        ("text", pa.string()), ("raw_bytes", pa.int64())])
_SUFFIXES = {"jsonl": (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst"),
             "parquet": (".parquet",)}
RAW_PREVIEW_CHARS = 2000
"""Quarantine rows keep at most this much of the raw input."""


@dataclass(frozen=True)
class Unit:
    """A resumable piece of ingest work: some files of one source."""

    name: str
    source: str
    paths: tuple[str, ...]

    def paths_table(self) -> pa.Table:
        """The (source, path) rows of this unit: Ingest's input."""
        return pa.table({"source": [self.source] * len(self.paths), "path": list(self.paths)})


def _expand(source: SourceConfig, entry: str) -> list[Path]:
    if glob.has_magic(entry):
        found = sorted(Path(p) for p in glob.glob(entry, recursive=True))
        if not found:
            raise InputError(f"source {source.name!r}: no file matches {entry!r}")
        return [p for f in found for p in _expand(source, str(f))]
    path = Path(entry)
    if not path.exists():
        raise InputError(f"source {source.name!r}: file not found: {entry}")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if source.format != "text":
        files = [p for p in files if p.name.endswith(_SUFFIXES[source.format])]
    return files


def resolve_paths(source: SourceConfig) -> list[Path]:
    """Absolute input files of a source; InputError when a path is missing or the source is empty."""
    files = sorted({p.resolve() for entry in source.paths for p in _expand(source, entry)})
    if not files:
        raise InputError(f"source {source.name!r}: no input files under {', '.join(source.paths)}")
    if all(p.stat().st_size == 0 for p in files):
        raise InputError(f"source {source.name!r} is empty: {', '.join(str(p) for p in files[:3])}")
    return files


def plan_units(sources: tuple[SourceConfig, ...], config: CurationConfig) -> list[Unit]:
    """All units of all sources, in a stable order; checks every source first."""
    if not sources:
        raise InputError("the config lists no sources")
    units = []
    for source in sources:
        files = resolve_paths(source)
        step = config.text_files_per_unit if source.format == "text" else 1
        for i in range(0, len(files), step):
            chunk = files[i:i + step]
            tag = f"part{i // step:05d}" if source.format == "text" else Path(chunk[0]).name
            units.append(Unit(name=f"{source.name}.{i // step:05d}.{tag}", source=source.name,
                              paths=tuple(str(p) for p in chunk)))
    return units


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith(".zst"):
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True))
    return open(path, "rb")


class _Collector:
    """Accumulates documents and quarantine rows of one batch of input."""

    def __init__(self, source: SourceConfig, max_doc_bytes: int):
        self.source, self.max_doc_bytes = source, max_doc_bytes
        self.docs: dict[str, list] = {k: [] for k in RAW_SCHEMA.names}
        self.bad: dict[str, list] = {k: [] for k in QUARANTINE_SCHEMA.names}

    def quarantine(self, path: Path, line: int | None, reason: str, raw: str | None) -> None:
        for key, value in zip(QUARANTINE_SCHEMA.names,
                              (self.source.name, str(path), line, reason, (raw or "")[:RAW_PREVIEW_CHARS])):
            self.bad[key].append(value)

    def add(self, path: Path, line: int | None, text: object, doc_id: object, raw: str) -> None:
        if text is None:
            return self.quarantine(path, line, "missing_text", raw)
        if not isinstance(text, str):
            return self.quarantine(path, line, "non_string_text", raw)
        if not text.strip():
            return self.quarantine(path, line, "empty", raw)
        try:
            n_bytes = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate escape in the JSON
            return self.quarantine(path, line, "invalid_utf8: lone surrogate", raw.encode("utf-8", "replace").decode())
        if n_bytes > self.max_doc_bytes:
            return self.quarantine(path, line, f"too_large: {n_bytes} > {self.max_doc_bytes} bytes", raw)
        default_id = f"{path}:{line}" if line is not None else str(path)
        values = (default_id if doc_id is None else str(doc_id), self.source.name, self.source.domain, text, n_bytes)
        for key, value in zip(RAW_SCHEMA.names, values):
            self.docs[key].append(value)

    def tables(self) -> dict[str, pa.Table]:
        return {"docs": pa.table(self.docs, schema=RAW_SCHEMA),
                "quarantine": pa.table(self.bad, schema=QUARANTINE_SCHEMA)}


def _field_text(record: dict, source: SourceConfig) -> object:
    """The text of a record: text_field, then extra_text_fields, one per line. None if missing."""
    parts = []
    for name in (source.text_field, *source.extra_text_fields):
        value = record.get(name)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        if value is None or not isinstance(value, str):
            return value
        parts.append(value)
    return "\n".join(parts)


def _read_jsonl(path: Path, out: _Collector) -> None:
    source = out.source
    with _open_binary(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            try:
                decoded = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                out.quarantine(path, line_no, f"invalid_utf8: bad byte at offset {exc.start}",
                               line.decode("utf-8", "replace"))
                continue
            if not decoded.strip():
                continue  # blank lines separate nothing in JSONL; they are not documents
            try:
                record = json.loads(decoded)
            except json.JSONDecodeError as exc:
                out.quarantine(path, line_no, f"malformed_json: {exc.msg}", decoded)
                continue
            if not isinstance(record, dict):
                out.quarantine(path, line_no, "malformed_json: not an object", decoded)
                continue
            doc_id = record.get(source.id_field) if source.id_field else None
            out.add(path, line_no, _field_text(record, source), doc_id, decoded)


def _read_parquet(path: Path, out: _Collector) -> None:
    source = out.source
    fields = [source.text_field, *source.extra_text_fields]
    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    absent = [f for f in fields if f not in names]
    wanted = [f for f in fields + ([source.id_field] if source.id_field else []) if f in names]
    row = 0
    for batch in file.iter_batches(columns=wanted, batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            raw = json.dumps(record, default=str)[:RAW_PREVIEW_CHARS]
            if absent:  # every row lacks the text: say which column, once per row so the ledger adds up
                out.quarantine(path, row, f"missing_text: no column {absent[0]!r} (columns: {', '.join(names)})", raw)
                continue
            doc_id = record.get(source.id_field) if source.id_field else None
            out.add(path, row, _field_text(record, source), doc_id, raw)


def _read_text(path: Path, out: _Collector) -> None:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.quarantine(path, None, f"invalid_utf8: bad byte at offset {exc.start}", data.decode("utf-8", "replace"))
        return
    out.add(path, None, text, path.name, text)


_READERS = {"jsonl": _read_jsonl, "parquet": _read_parquet, "text": _read_text}
_UNREADABLE = (OSError, EOFError, pa.ArrowException, zstandard.ZstdError)
"""Errors that make a whole file unreadable: the file becomes one quarantine row, the other files go on."""


class Ingest:
    """Stage: a table of (source, path) rows -> {"docs": raw documents, "quarantine": bad input}.

    Args:
        config: curation settings (max_doc_bytes).
        sources: the run's sources, by name.
    """

    def __init__(self, config: CurationConfig, sources: dict[str, SourceConfig]):
        self.config, self.sources = config, sources

    def __call__(self, table: pa.Table) -> dict[str, pa.Table]:
        parts = [self.read_file(s, Path(p)) for s, p in zip(table.column("source").to_pylist(),
                                                            table.column("path").to_pylist())]
        return {kind: pa.concat_tables([p[kind] for p in parts]) for kind in ("docs", "quarantine")}

    def read_file(self, source_name: str, path: Path) -> dict[str, pa.Table]:
        source = self.sources[source_name]
        out = _Collector(source, self.config.max_doc_bytes)
        try:
            _READERS[source.format](path, out)
        except _UNREADABLE as exc:  # truncated or garbage archive, corrupt or non-Parquet .parquet file
            message = " ".join(str(exc).split())[:300]
            out.quarantine(path, None, f"unreadable: {type(exc).__name__}: {message}", None)
        return out.tables()
