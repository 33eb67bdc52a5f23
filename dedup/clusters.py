"""Keeper choice: the members of each cluster -> one keeper, the others duplicates with a reason.

The keeper of a cluster is the document with the highest ``quality_score`` (a missing score ranks
lowest); ties go to the smallest ``doc_id``, then the smallest gid, so the choice never depends on
input order or partitioning. A duplicate's reason is "exact" when its scope and normalised text equal
its keeper's, else "near".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

CLUSTER_SCHEMA = pa.schema(
    [("gid", pa.int64()), ("dup_cluster", pa.string()), ("dup_kept", pa.bool_()), ("reason", pa.string())]
)


def keepers(members: pa.Table) -> pa.Table:
    """CLUSTER_SCHEMA rows of ``members`` (root, gid, doc_id, quality_score, scope, exact; whole clusters)."""
    if members.num_rows == 0:
        return CLUSTER_SCHEMA.empty_table()
    root = members.column("root").to_numpy()
    quality = members.column("quality_score").to_numpy(zero_copy_only=False).astype(np.float64)
    rank_quality = np.where(np.isnan(quality), np.inf, -quality)
    doc_id = np.array(members.column("doc_id").to_pylist(), dtype=object).astype(str)
    gid = members.column("gid").to_numpy()
    order = np.lexsort((gid, doc_id, rank_quality, root))
    first = np.concatenate(([True], root[order][1:] != root[order][:-1]))
    keeper_row = order[first][np.cumsum(first) - 1]  # per sorted row, the row of its cluster's keeper
    keeper = np.empty_like(keeper_row)
    keeper[order] = keeper_row
    kept = keeper == np.arange(len(root))
    scope, exact = members.column("scope").to_numpy(), members.column("exact").to_numpy()
    same_text = (scope == scope[keeper]) & (exact == exact[keeper])
    reason = np.where(kept, None, np.where(same_text, "exact", "near"))
    return pa.Table.from_arrays(
        [pa.array(gid, pa.int64()), pa.array(doc_id[keeper]), pa.array(kept), pa.array(reason.tolist(), pa.string())],
        schema=CLUSTER_SCHEMA,
    )
