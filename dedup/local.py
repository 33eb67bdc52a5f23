"""The four dedup steps in a plain loop over one in-memory table (tests, bare files, benchmarks).

The Ray flow (automixer/flows/dedup.py) runs the same stage objects under ``map_batches``; this
module is the reference it must agree with.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dataplane.schema import doc_id_for
from dedup.buckets import BandKeyStage, candidate_pairs
from dedup.clusters import assign_clusters, exact_pairs, verify_pairs
from dedup.config import DedupConfig
from dedup.filter import FilterStage
from dedup.signatures import SignatureStage, signature_matrix


def with_defaults(table: pa.Table) -> pa.Table:
    """Add gid (row number), doc_id (from text) and quality_score (null) where they are missing."""
    if "text" not in table.column_names:
        raise ValueError(f"dedup needs a 'text' column; columns are {table.column_names}")
    if "doc_id" not in table.column_names:
        ids = [doc_id_for(t or "") for t in table.column("text").to_pylist()]
        table = table.append_column("doc_id", pa.array(ids, pa.string()))
    if "quality_score" not in table.column_names:
        table = table.append_column("quality_score", pa.nulls(table.num_rows, pa.float64()))
    gid = pa.array(np.arange(table.num_rows, dtype=np.int64))
    if "gid" in table.column_names:
        return table.set_column(table.column_names.index("gid"), "gid", gid)
    return table.append_column("gid", gid)


def find_clusters(docs: pa.Table, sigs: pa.Table, config: DedupConfig) -> pa.Table:
    """Cluster rows (CLUSTER_SCHEMA) from documents (gid, doc_id, quality_score) and their signatures."""
    gid = sigs.column("gid").to_numpy()
    scope, exact = sigs.column("scope").to_numpy(), sigs.column("exact").to_numpy()
    exact_edges = exact_pairs(gid, scope, exact)
    keys = BandKeyStage(config)(sigs)
    pairs = candidate_pairs(keys.column("key").to_numpy(), keys.column("gid").to_numpy(), config.verify_group_limit)
    if config.verify:
        sig_DP, sorted_gid = signature_matrix(sigs), np.sort(gid)
        row_of = np.argsort(gid)
        pairs = verify_pairs(pairs, lambda g: sig_DP[row_of[np.searchsorted(sorted_gid, g)]], config.threshold)
    meta = docs.select(["gid", "doc_id", "quality_score"]).append_column("scope", pa.array(scope)).append_column(
        "exact", pa.array(exact)
    )
    return assign_clusters(meta, exact_edges, pairs)


def dedup_table(table: pa.Table, config: DedupConfig) -> pa.Table:
    """All rows of ``table`` with gid, doc_id, dup_cluster, dup_kept and reason set, in input order."""
    docs = with_defaults(table)
    if not config.enabled:
        return FilterStage(config).mark(docs)
    sigs = SignatureStage(config)(docs)
    return FilterStage(config, find_clusters(docs, sigs, config)).mark(docs)
