"""The chain in this process: a table in memory (tests, benchmarks) or a bare JSONL / Parquet file.

Both run ``chain.run_chain`` with the in-process task runner: the same task functions, over the same
Parquet shards and partitions, as ``automixer dedup CONFIG`` runs on Ray. A bare file is read and
written in shards of ``docs_per_shard`` rows, so memory follows the shard size, not the file size.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataplane.errors import InputError
from dataplane.jsonl import iter_jsonl
from dataplane.schema import doc_id_for
from dataplane.store import atomic_path
from dedup.chain import MapTasks, in_process, run_chain, shard_clusters
from dedup.config import DedupConfig
from dedup.filter import FilterStage
from dedup.parts import write_scratch

BARE_COLUMNS = ["doc_id", "id", "text", "quality_score", "dup_cluster", "dup_kept", "reason"]


def with_defaults(table: pa.Table) -> pa.Table:
    """Add doc_id (from text) and quality_score (null) where they are missing."""
    if "text" not in table.column_names:
        raise ValueError(f"dedup needs a 'text' column; columns are {table.column_names}")
    if "doc_id" not in table.column_names:
        ids = [doc_id_for(t or "") for t in table.column("text").to_pylist()]
        table = table.append_column("doc_id", pa.array(ids, pa.string()))
    if "quality_score" not in table.column_names:
        table = table.append_column("quality_score", pa.nulls(table.num_rows, pa.float64()))
    return table


def _with_gid(table: pa.Table, offset: int) -> pa.Table:
    gid = pa.array(np.arange(offset, offset + table.num_rows, dtype=np.int64))
    if "gid" in table.column_names:
        return table.set_column(table.column_names.index("gid"), "gid", gid)
    return table.append_column("gid", gid)


def _write_shards(batches: Iterator[pa.Table], folder: Path) -> list[dict]:
    """Write each batch as one input shard; return the shard dicts (path, offset, rows) for the chain."""
    shards, offset = [], 0
    for i, batch in enumerate(batches):
        path = write_scratch(folder / f"input-{i:05d}.parquet", batch, compression="lz4")
        shards.append({"path": str(path), "offset": offset, "rows": batch.num_rows})
        offset += batch.num_rows
    return shards


def _mark(shards: list[dict], root: Path, config: DedupConfig) -> Iterator[pa.Table]:
    """Each input shard with gid, dup_cluster, dup_kept and reason set."""
    for i, shard in enumerate(shards):
        table = _with_gid(pq.read_table(shard["path"]), shard["offset"])
        clusters = shard_clusters(root / "chain", i) if config.enabled else None
        yield FilterStage(config, clusters).mark(table)


def _run(shards: list[dict], root: Path, config: DedupConfig, map_tasks: MapTasks, num_partitions: int | None) -> dict:
    if not config.enabled or not shards:
        return {}
    return run_chain(shards, root / "chain", config, map_tasks, num_partitions)


def dedup_table(table: pa.Table, config: DedupConfig, *, docs_per_shard: int | None = None,
                num_partitions: int | None = None, map_tasks: MapTasks = in_process) -> pa.Table:
    """All rows of ``table`` with gid, doc_id, dup_cluster, dup_kept and reason set, in input order."""
    docs = with_defaults(table)
    size = docs_per_shard or config.docs_per_shard
    with tempfile.TemporaryDirectory(prefix="dedup-") as tmp:
        root = Path(tmp)
        shards = _write_shards((docs.slice(i, size) for i in range(0, docs.num_rows, size)), root / "input")
        _run(shards, root, config, map_tasks, num_partitions)
        marked = list(_mark(shards, root, config))
    return pa.concat_tables(marked) if marked else _with_gid(docs, 0).append_column(
        "dup_cluster", pa.array([], pa.string())).append_column("dup_kept", pa.array([], pa.bool_())).append_column(
        "reason", pa.array([], pa.string()))


# --- bare files ---------------------------------------------------------------------------------------
def _bare_table(rows: list[dict]) -> pa.Table:
    quality = [r.get("quality_score") for r in rows]
    texts = [r["text"] or "" for r in rows]
    return pa.table({
        "doc_id": pa.array([doc_id_for(t) for t in texts], pa.string()),
        "id": pa.array([None if r["id"] is None else str(r["id"]) for r in rows], pa.string()),
        "text": pa.array(texts, pa.string()),
        "quality_score": pa.array([q if isinstance(q, (int, float)) and not isinstance(q, bool) else None
                                   for q in quality], pa.float64()),
    })


def read_bare(path: Path, batch_rows: int) -> Iterator[pa.Table]:
    """doc_id, id, text and quality_score of a JSONL (.jsonl, .jsonl.gz) or Parquet file, in batches."""
    if not path.exists():
        raise InputError(f"{path}: input file not found")
    if path.suffix == ".parquet":
        file = pq.ParquetFile(path)
        missing = [c for c in ("id", "text") if c not in file.schema_arrow.names]
        if missing:
            raise InputError(f"{path}: missing column {missing[0]!r}; columns are {file.schema_arrow.names}")
        wanted = [c for c in ("id", "text", "quality_score") if c in file.schema_arrow.names]
        for batch in file.iter_batches(batch_size=batch_rows, columns=wanted):
            yield _bare_table(batch.to_pylist())
        return
    rows = []
    for line_no, obj in iter_jsonl(path):
        if not isinstance(obj, dict) or "id" not in obj or not isinstance(obj.get("text"), str):
            raise InputError(f"{path}:{line_no}: expected an object with 'id' and a string 'text'")
        rows.append({"id": obj["id"], "text": obj["text"], "quality_score": obj.get("quality_score")})
        if len(rows) == batch_rows:
            yield _bare_table(rows)
            rows = []
    if rows:
        yield _bare_table(rows)


def dedup_file(input_path: Path, output_dir: Path, config: DedupConfig, map_tasks: MapTasks = in_process) -> dict:
    """Deduplicate a bare file into <output_dir>/dedup.parquet (BARE_COLUMNS, input order); return counts."""
    output = Path(output_dir) / "dedup.parquet"
    counts = {"documents": 0, "kept": 0, "exact": 0, "near": 0, "path": str(output)}
    schema = pa.schema([("doc_id", pa.string()), ("id", pa.string()), ("text", pa.string()),
                        ("quality_score", pa.float64()), ("dup_cluster", pa.string()), ("dup_kept", pa.bool_()),
                        ("reason", pa.string())])
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".dedup-", dir=output_dir) as tmp:
        root = Path(tmp)
        shards = _write_shards(read_bare(Path(input_path), config.docs_per_shard), root / "input")
        counts["chain"] = _run(shards, root, config, map_tasks, None)
        with atomic_path(output) as tmp_out, pq.ParquetWriter(tmp_out, schema, compression="zstd") as writer:
            for marked in _mark(shards, root, config):
                out = marked.select(BARE_COLUMNS).cast(schema)
                writer.write_table(out)
                kept = out.column("dup_kept").to_numpy(zero_copy_only=False)
                reasons = out.column("reason").to_pylist()
                counts["documents"] += out.num_rows
                counts["kept"] += int(np.count_nonzero(kept))
                counts["exact"] += reasons.count("exact")
                counts["near"] += reasons.count("near")
    return counts
