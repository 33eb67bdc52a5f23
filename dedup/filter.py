"""The final filter (a map per shard): mark every document with its cluster, split kept from duplicates.

Documents outside any cluster of two or more are keepers of their own cluster: ``dup_cluster`` is
their own ``doc_id`` and ``dup_kept`` is true. Nothing is dropped: duplicates carry ``dup_cluster``
(the keeper's doc_id), ``dup_kept`` false and ``reason`` "exact" or "near".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedup.clusters import CLUSTER_SCHEMA
from dedup.config import DedupConfig


def _set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


class FilterStage:
    """Documents with a ``gid`` column -> {"kept": ..., "duplicates": ...} with the dup columns filled.

    Args:
        config: the dedup config (unused today; kept for the stage interface).
        clusters: CLUSTER_SCHEMA rows from the chain (``chain.shard_clusters``; any superset of the batch).
    """

    def __init__(self, config: DedupConfig, clusters: pa.Table | None = None):
        self.config = config
        clusters = clusters if clusters is not None else CLUSTER_SCHEMA.empty_table()
        clusters = clusters.sort_by("gid")
        self.gid = clusters.column("gid").to_numpy()
        self.clusters = clusters

    def mark(self, table: pa.Table) -> pa.Table:
        """``table`` with dup_cluster, dup_kept and reason set for every row."""
        gid = table.column("gid").to_numpy()
        pos = np.minimum(np.searchsorted(self.gid, gid), max(len(self.gid) - 1, 0))
        found = (self.gid[pos] == gid) if len(self.gid) else np.zeros(len(gid), bool)
        take = pa.array(np.where(found, pos, 0)) if len(self.gid) else None
        mask = pa.array(found)

        def pick(name: str, default: pa.Array) -> pa.Array:
            if take is None:
                return default
            return pc.if_else(mask, self.clusters.column(name).take(take), default)

        n = table.num_rows
        own_id = table.column("doc_id").combine_chunks()
        reason = table.column("reason").combine_chunks() if "reason" in table.column_names else pa.nulls(n, pa.string())
        table = _set_column(table, "dup_cluster", pick("dup_cluster", own_id))
        table = _set_column(table, "dup_kept", pick("dup_kept", pa.array(np.ones(n, bool))))
        return _set_column(table, "reason", pick("reason", reason.cast(pa.string())))

    def __call__(self, table: pa.Table) -> dict[str, pa.Table]:
        marked = self.mark(table)
        kept = marked.column("dup_kept")
        return {"kept": marked.filter(kept), "duplicates": marked.filter(pc.invert(kept))}
