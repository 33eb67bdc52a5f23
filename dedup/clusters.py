"""Step 4a of 4: candidate pairs -> clusters (union-find) -> one keeper per cluster.

Exact duplicates (same scope and normalised-text key) are joined first, without MinHash; near
candidates are joined when their estimated Jaccard reaches the threshold (``verify``) or as they come.
The keeper of a cluster is the document with the highest ``quality_score`` (a missing score ranks
lowest); ties go to the smallest ``doc_id``, then the smallest gid, so the choice never depends on
input order. A duplicate's reason is "exact" when its normalised text equals its keeper's, else "near".
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa

from dedup.minhash import estimated_jaccard

CLUSTER_SCHEMA = pa.schema(
    [("gid", pa.int64()), ("dup_cluster", pa.string()), ("dup_kept", pa.bool_()), ("reason", pa.string())]
)


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int):
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def roots(self) -> np.ndarray:
        return np.array([self.find(x) for x in range(len(self.parent))], dtype=np.int64)


def exact_pairs(gid: np.ndarray, scope: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """(N, 2) pairs (first gid, other gid) of documents with the same scope and exact key."""
    order = np.lexsort((gid, exact, scope))
    g, s, e = gid[order], scope[order], exact[order]
    same = (s[1:] == s[:-1]) & (e[1:] == e[:-1])
    if not same.any():
        return np.zeros((0, 2), np.int64)
    group_start = np.maximum.accumulate(np.where(np.concatenate(([True], ~same)), np.arange(g.size), 0))
    rows = np.flatnonzero(np.concatenate(([False], same)))
    return np.stack([g[group_start[rows]], g[rows]], axis=-1)


def verify_pairs(pairs: np.ndarray, signatures: Callable[[np.ndarray], np.ndarray], threshold: float) -> np.ndarray:
    """The pairs whose estimated Jaccard is at least ``threshold``.

    ``signatures(gids)`` returns the (len(gids), P) signature rows of those documents.
    """
    if pairs.size == 0:
        return pairs
    keep = np.zeros(len(pairs), bool)
    for start in range(0, len(pairs), 65536):
        chunk = pairs[start : start + 65536]
        keep[start : start + len(chunk)] = estimated_jaccard(signatures(chunk[:, 0]), signatures(chunk[:, 1])) >= threshold
    return pairs[keep]


def assign_clusters(meta: pa.Table, exact_edges: np.ndarray, near_edges: np.ndarray) -> pa.Table:
    """CLUSTER_SCHEMA rows for every document in a cluster of two or more (others are kept as is).

    ``meta`` has gid, doc_id, quality_score, scope and exact; edges are (N, 2) gid pairs.
    """
    gid = meta.column("gid").to_numpy()
    order = np.argsort(gid, kind="stable")
    sorted_gid = gid[order]
    edges = np.concatenate([exact_edges.reshape(-1, 2), near_edges.reshape(-1, 2)]).astype(np.int64)
    if edges.size == 0:
        return CLUSTER_SCHEMA.empty_table()
    idx = order[np.searchsorted(sorted_gid, edges)]
    members = np.unique(idx)
    local = np.searchsorted(members, idx)  # union-find only over documents that have an edge
    uf = UnionFind(len(members))
    for a, b in local.tolist():
        uf.union(a, b)
    root = uf.roots()
    return _keepers(meta.take(pa.array(members)), root)


def _keepers(docs: pa.Table, root: np.ndarray) -> pa.Table:
    """Pick each cluster's keeper; return CLUSTER_SCHEMA rows for all of ``docs``."""
    quality = docs.column("quality_score").to_numpy(zero_copy_only=False).astype(np.float64)
    rank_quality = np.where(np.isnan(quality), np.inf, -quality)
    doc_id = np.array(docs.column("doc_id").to_pylist(), dtype=object).astype(str)
    gid = docs.column("gid").to_numpy()
    order = np.lexsort((gid, doc_id, rank_quality, root))
    first = np.concatenate(([True], root[order][1:] != root[order][:-1]))
    keeper_of_root = dict(zip(root[order][first].tolist(), order[first].tolist()))
    keeper = np.array([keeper_of_root[r] for r in root.tolist()], dtype=np.int64)
    kept = keeper == np.arange(len(root))
    scope, exact = docs.column("scope").to_numpy(), docs.column("exact").to_numpy()
    same_text = (scope == scope[keeper]) & (exact == exact[keeper])
    reason = np.where(kept, None, np.where(same_text, "exact", "near"))
    return pa.Table.from_arrays(
        [pa.array(gid, pa.int64()), pa.array(doc_id[keeper]), pa.array(kept), pa.array(reason.tolist(), pa.string())],
        schema=CLUSTER_SCHEMA,
    )
