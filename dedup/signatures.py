"""Step 1 of 4: per document, the exact key, the scope key and the MinHash signature.

Input columns: ``text`` and ``gid`` (a row number unique across the whole data set; ``arange`` when
absent), plus ``source`` / ``bucket`` when the scope needs them. Output (SIGNATURE_COLUMNS): ``gid``,
``scope`` (int64 hash of the scope value, 0 for global), ``exact`` (int64 hash of the normalised
text), ``n_shingles`` and ``sig`` (fixed-size list of ``num_perm`` uint32).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedup.config import DedupConfig
from dedup.minhash import MinHasher
from dedup.shingles import exact_key, normalize, shingles

SCOPE_COLUMN = {"global": None, "source": "source", "bucket": "bucket"}


def signature_schema(num_perm: int) -> pa.Schema:
    """Schema of a signature table."""
    return pa.schema(
        [
            ("gid", pa.int64()),
            ("scope", pa.int64()),
            ("exact", pa.int64()),
            ("n_shingles", pa.int32()),
            ("sig", pa.list_(pa.uint32(), num_perm)),
        ]
    )


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


class SignatureStage:
    """Normalise, shingle and MinHash a batch of documents.

    Args:
        config: the dedup config; uses ngram, shingle, num_perm, seed, scope and batch_size (documents
            hashed per numpy pass).
    """

    def __init__(self, config: DedupConfig):
        self.config = config
        self.hasher = MinHasher(config.num_perm, config.seed)

    def __call__(self, table: pa.Table) -> pa.Table:
        cfg = self.config
        gid = (
            table.column("gid").to_numpy().astype(np.int64)
            if "gid" in table.column_names
            else np.arange(table.num_rows, dtype=np.int64)
        )
        texts = table.column("text").to_pylist()
        normalized = [normalize(t) for t in texts]
        exact = np.array([exact_key(n) for n in normalized], dtype=np.int64)
        sig_parts, n_shingles = [], []
        for start in range(0, len(normalized), cfg.batch_size):
            sets = [shingles(n, cfg.ngram, cfg.shingle) for n in normalized[start : start + cfg.batch_size]]
            n_shingles.extend(len(s) for s in sets)
            sig_parts.append(self.hasher.signatures(sets))
        sig_DP = np.concatenate(sig_parts) if sig_parts else np.zeros((0, cfg.num_perm), np.uint32)
        sig = pa.FixedSizeListArray.from_arrays(pa.array(sig_DP.ravel(), pa.uint32()), cfg.num_perm)
        return pa.Table.from_arrays(
            [
                pa.array(gid, pa.int64()),
                pa.array(scope_keys(table, cfg.scope), pa.int64()),
                pa.array(exact, pa.int64()),
                pa.array(n_shingles, pa.int32()),
                sig,
            ],
            schema=signature_schema(cfg.num_perm),
        )
