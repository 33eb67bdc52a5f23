"""The shard schema every stage reads and writes (a leaf module: imports only pyarrow and hashlib).

Document shards (kept, filtered, duplicates, synthetic) share DOC_SCHEMA. Columns:

- doc_id: stable content hash of the normalised text (sha1 hex, 16 chars): doc_id_for(text).
- id: the document's id in its input (the source's id field, or path:line); null for synthetic docs.
- source, domain: the config's source name and domain (code, math, stem, web, ...).
- text: the normalised document text.
- n_bytes: UTF-8 length of text; n_tokens: tokens from the project tokenizer (or a whitespace
  estimate until curation has trained it).
- quality_score: classifier score in [0, 1] (higher is better); bucket: quality level, 0 = best.
- dup_cluster: doc_id of the cluster's keeper (its own doc_id for a keeper); dup_kept: kept by dedup.
- synthetic, synth_strategy, synth_backend, synth_model, synth_prompt_hash, parent_id: provenance of
  synthetic rewrites (parent_id: seed doc_id, or comma-joined feature ids).
- reason: why a document was filtered, quarantined or rejected (null when kept).

Quarantine shards use QUARANTINE_SCHEMA: the raw input could not become a document.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

DOC_FIELDS = [
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("id", pa.string()),
    pa.field("source", pa.string(), nullable=False),
    pa.field("domain", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("n_bytes", pa.int64(), nullable=False),
    pa.field("n_tokens", pa.int64(), nullable=False),
    pa.field("quality_score", pa.float64()),
    pa.field("bucket", pa.int32()),
    pa.field("dup_cluster", pa.string()),
    pa.field("dup_kept", pa.bool_()),
    pa.field("synthetic", pa.bool_(), nullable=False),
    pa.field("synth_strategy", pa.string()),
    pa.field("synth_backend", pa.string()),
    pa.field("synth_model", pa.string()),
    pa.field("synth_prompt_hash", pa.string()),
    pa.field("parent_id", pa.string()),
    pa.field("reason", pa.string()),
]
DOC_SCHEMA = pa.schema(DOC_FIELDS)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("line", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)

_DEFAULTS = {"synthetic": False, "n_tokens": 0}


def doc_id_for(text: str) -> str:
    """Stable id of a document: a hash of its (already normalised) text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def conform(table: pa.Table, schema: pa.Schema = DOC_SCHEMA) -> pa.Table:
    """Return ``table`` with exactly ``schema``'s columns, in order: missing ones filled, types cast.

    Missing non-nullable columns get their default (synthetic=False, n_tokens=0); n_bytes and doc_id
    are computed from text when absent. Extra columns are dropped.
    """
    n = table.num_rows
    columns = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                col = col.cast(field.type)
        elif field.name == "doc_id" and "text" in table.column_names:
            col = pa.array([doc_id_for(t) for t in table.column("text").to_pylist()], pa.string())
        elif field.name == "n_bytes" and "text" in table.column_names:
            col = pa.array([len(t.encode("utf-8")) for t in table.column("text").to_pylist()], pa.int64())
        elif field.name in _DEFAULTS:
            col = pa.array([_DEFAULTS[field.name]] * n, field.type)
        else:
            col = pa.nulls(n, field.type)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=schema)


def empty(schema: pa.Schema = DOC_SCHEMA) -> pa.Table:
    """An empty table with ``schema``."""
    return schema.empty_table()


def component_name(source: str, bucket: int | None, synth_strategy: str | None = None) -> str:
    """Default mixing component of a document: ``source.q<bucket>``, or ``synth.<strategy>``."""
    if synth_strategy:
        return f"synth.{synth_strategy}"
    return f"{source}.q{bucket}" if bucket is not None else source
