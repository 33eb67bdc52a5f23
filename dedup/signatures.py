"""Step 1: per document, the exact key, the scope key, the MinHash signature and the bottom-k sample.

Input columns: ``text``, ``doc_id``, ``quality_score`` and ``gid`` (a row number unique across the
whole data set), plus ``source`` / ``bucket`` when the scope needs them. Output (``signature_schema``):
gid, doc_id, quality_score, ``scope`` (int64 hash of the scope value, 0 for global), ``exact`` (int64
hash of the normalised text), ``n_shingles`` (distinct), ``sig`` (fixed-size list of ``num_perm``
uint32) and ``sample`` (list of at most ``sample_size`` uint32, sorted).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedup.config import DedupConfig
from dedup.shingles import exact_key, normalize_bytes
from dedup.sketch import shingle_hashes, sketch

SCOPE_COLUMN = {"global": None, "source": "source", "bucket": "bucket"}
META_COLUMNS = ["gid", "doc_id", "quality_score", "scope", "exact"]


def signature_schema(num_perm: int) -> pa.Schema:
    """Schema of a signature table."""
    return pa.schema([
        ("gid", pa.int64()), ("doc_id", pa.string()), ("quality_score", pa.float64()),
        ("scope", pa.int64()), ("exact", pa.int64()), ("n_shingles", pa.int32()),
        ("sig", pa.list_(pa.uint32(), num_perm)), ("sample", pa.list_(pa.uint32())),
    ])


def scope_keys(table: pa.Table, scope: str) -> np.ndarray:
    """int64 key of each row's scope value (source name or bucket); zeros for the global scope."""
    column = SCOPE_COLUMN[scope]
    if column is None:
        return np.zeros(table.num_rows, dtype=np.int64)
    if column not in table.column_names:
        raise ValueError(f"dedup scope {scope!r} needs a {column!r} column; columns are {table.column_names}")
    cache: dict = {}
    values = table.column(column).to_pylist()
    return np.array([cache.setdefault(v, exact_key(f"{column}={v}")) for v in values], dtype=np.int64)


def signature_matrix(table: pa.Table) -> np.ndarray:
    """The ``sig`` column of a signature table as a (D, P) uint32 array."""
    column = table.column("sig")
    num_perm = column.type.list_size
    if table.num_rows == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    flat = pa.concat_arrays([chunk.flatten() for chunk in column.chunks])
    return flat.to_numpy(zero_copy_only=False).reshape(-1, num_perm)


def sample_arrays(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The ``sample`` column as (values, offsets): row i is values[offsets[i]:offsets[i + 1]]."""
    column = table.column("sample").combine_chunks()
    offsets = column.offsets.to_numpy().astype(np.int64)
    values = column.values.to_numpy(zero_copy_only=False)
    return values[offsets[0] : offsets[-1]], offsets - offsets[0]


class SignatureStage:
    """Normalise, shingle and sketch a batch of documents.

    Args:
        config: the dedup config; uses ngram, shingle, num_perm, sample_size, seed, scope and batch_size
            (documents sketched per numpy pass).
    """

    def __init__(self, config: DedupConfig):
        self.config = config

    def __call__(self, table: pa.Table) -> pa.Table:
        cfg = self.config
        normalized = [normalize_bytes(t) for t in table.column("text").to_pylist()]
        exact = np.fromiter((exact_key(n) for n in normalized), np.int64, len(normalized))
        sigs, values, lengths, n_shingles = [], [], [], []
        for start in range(0, len(normalized), cfg.batch_size):
            h_S, n_D = shingle_hashes(normalized[start : start + cfg.batch_size], cfg.ngram, cfg.shingle, cfg.seed)
            sig_DP, sample, offsets, distinct_D = sketch(h_S, n_D, cfg.num_perm, cfg.sample_size)
            sigs.append(sig_DP)
            values.append(sample)
            lengths.append(np.diff(offsets))
            n_shingles.append(distinct_D)
        sig_DP = np.concatenate(sigs) if sigs else np.zeros((0, cfg.num_perm), np.uint32)
        offsets = np.concatenate(([0], np.cumsum(np.concatenate(lengths)))) if lengths else np.zeros(1, np.int64)
        sample = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()),
                                          pa.array(np.concatenate(values) if values else [], pa.uint32()))
        quality = table.column("quality_score").cast(pa.float64()) if "quality_score" in table.column_names else (
            pa.nulls(table.num_rows, pa.float64()))
        return pa.Table.from_arrays(
            [
                table.column("gid").cast(pa.int64()),
                table.column("doc_id").cast(pa.string()),
                quality,
                pa.array(scope_keys(table, cfg.scope), pa.int64()),
                pa.array(exact, pa.int64()),
                pa.array(np.concatenate(n_shingles) if n_shingles else [], pa.int32()),
                pa.FixedSizeListArray.from_arrays(pa.array(sig_DP.ravel(), pa.uint32()), cfg.num_perm),
                sample,
            ],
            schema=signature_schema(cfg.num_perm),
        )
