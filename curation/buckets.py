"""Quality buckets (0 = best) and diversity-preserving retention.

Thresholds are descending: a score at or above thresholds[0] is bucket 0, below the last one is bucket
K-1. Retention keeps keep_fractions[b] of bucket b within every (source, bucket) group by systematic
sampling over the documents sorted by length, so each source keeps its share and its spread of
lengths; the sampling offset comes from a hash of the seed, source and bucket, so it is deterministic.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.config import CurationConfig


def quantile_thresholds(scores: np.ndarray, num_buckets: int) -> list[float]:
    """Descending thresholds that cut ``scores`` into num_buckets equal-count levels."""
    if num_buckets <= 1 or len(scores) == 0:
        return [0.5] * (num_buckets - 1)
    qs = np.quantile(np.asarray(scores, dtype=np.float64), [1 - (k + 1) / num_buckets for k in range(num_buckets - 1)])
    return [float(q) for q in qs]


def assign_buckets(scores: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """Bucket of each score: the number of thresholds it falls below (0 = best)."""
    scores = np.asarray(scores, dtype=np.float64)
    below = np.zeros(len(scores), dtype=np.int32)
    for t in thresholds:
        below += scores < t
    return below


def _offset(seed: int, source: str, bucket: int) -> float:
    digest = hashlib.sha1(f"{seed}:{source}:{bucket}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def systematic_keep(n_bytes: list[int], doc_ids: list[str], fraction: float, offset: float) -> np.ndarray:
    """Keep mask of about fraction * n documents, spread evenly over the documents sorted by length."""
    n = len(n_bytes)
    keep = np.zeros(n, dtype=bool)
    if fraction >= 1.0:
        keep[:] = True
        return keep
    order = sorted(range(n), key=lambda i: (n_bytes[i], doc_ids[i]))
    for rank, i in enumerate(order):
        keep[i] = math.floor((rank + 1) * fraction + offset) > math.floor(rank * fraction + offset)
    return keep


class Bucketize:
    """Stage: sets ``bucket`` from ``quality_score`` and applies retention.

    Returns {"kept": documents kept, "filtered": documents dropped by retention (reason "retention")}.

    Args:
        config: num_buckets and keep_fractions.
        thresholds: descending score thresholds (num_buckets - 1 values).
        seed: the run's seed (retention is deterministic for a seed).
    """

    def __init__(self, config: CurationConfig, thresholds: list[float], seed: int):
        if len(thresholds) != config.num_buckets - 1:
            raise ValueError(f"expected {config.num_buckets - 1} thresholds, got {len(thresholds)}")
        self.config, self.thresholds, self.seed = config, list(thresholds), seed

    def __call__(self, table: pa.Table) -> dict[str, pa.Table]:
        buckets = assign_buckets(table.column("quality_score").to_numpy(zero_copy_only=False), self.thresholds)
        table = table.append_column("bucket", pa.array(buckets, pa.int32()))
        keep = np.zeros(table.num_rows, dtype=bool)
        sources = np.asarray(table.column("source").to_pylist(), dtype=object)
        n_bytes = table.column("n_bytes").to_pylist()
        doc_ids = table.column("doc_id").to_pylist()
        for source in sorted(set(sources)):
            for b in range(self.config.num_buckets):
                idx = np.flatnonzero((sources == source) & (buckets == b))
                if len(idx):
                    frac = self.config.keep_fractions[b]
                    keep[idx] = systematic_keep([n_bytes[i] for i in idx], [doc_ids[i] for i in idx],
                                                frac, _offset(self.seed, source, b))
        mask = pa.array(keep)
        dropped = table.filter(pc.invert(mask))
        dropped = dropped.append_column("reason", pa.array(["retention"] * dropped.num_rows, pa.string()))
        return {"kept": table.filter(mask), "filtered": dropped}
