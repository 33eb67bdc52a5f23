"""Keeper choice: the members of each cluster -> one keeper, the others duplicates with a reason.

The keeper of a cluster is the document with the highest ``quality_score`` (a missing score ranks
lowest); ties go to the smallest ``doc_id``, then the smallest gid, so the choice never depends on
input order or partitioning. A duplicate's reason is "exact" when its scope and normalised text equal
its keeper's, else "near".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CLUSTER_SCHEMA = pa.schema(
    [("gid", pa.int64()), ("dup_cluster", pa.string()), ("dup_kept", pa.bool_()), ("reason", pa.string())]
)


def keepers(members: pa.Table) -> pa.Table:
    """CLUSTER_SCHEMA rows of ``members`` (root, gid, doc_id, quality_score, scope, exact; whole clusters)."""
    if members.num_rows == 0:
        return CLUSTER_SCHEMA.empty_table()
    root = members.column("root").to_numpy()
    quality = members.column("quality_score").to_numpy(zero_copy_only=False).astype(np.float64)
    rank = pa.table({"root": root, "quality": np.where(np.isnan(quality), np.inf, -quality),
                     "doc_id": members.column("doc_id"), "gid": members.column("gid")})
    order = pc.sort_indices(rank, sort_keys=[(c, "ascending") for c in rank.column_names]).to_numpy()
    first = np.concatenate(([True], root[order][1:] != root[order][:-1]))
    keeper_row = order[first][np.cumsum(first) - 1]  # per sorted row, the row of its cluster's keeper
    keeper = np.empty_like(keeper_row)
    keeper[order] = keeper_row
    kept = keeper == np.arange(len(root))
    scope, exact = members.column("scope").to_numpy(), members.column("exact").to_numpy()
    same_text = (scope == scope[keeper]) & (exact == exact[keeper])
    reason = pc.if_else(pa.array(kept), pa.nulls(len(kept), pa.string()),
                        pc.if_else(pa.array(same_text), "exact", "near"))
    return pa.Table.from_arrays(
        [members.column("gid"), members.column("doc_id").take(pa.array(keeper)), pa.array(kept), reason],
        schema=CLUSTER_SCHEMA,
    )
