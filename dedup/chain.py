"""The one dedup chain: input shards -> cluster files, as tasks over Parquet files.

Every step is a list of independent task calls; ``run_chain`` hands each list to ``map_tasks``, which
runs them in this process (the bare-file command, tests) or as Ray tasks (``automixer dedup CONFIG``).
Tasks read and write files under ``root``; the driver holds only counts, shard offsets and folder
names, so its memory does not grow with the corpus (docs/DEDUP.md has the memory model).

Steps (S input shards, R partitions):
1. ``sign`` per shard: signatures and samples -> sigs/<s>.parquet; band and exact keys, partitioned
   by key -> keys/<r>/.
2. ``group`` per partition: band groups (groups.py). Small groups give candidate pairs, partitioned by
   the shard of their first document -> pairs_a/<s>/; exact groups and large groups (leader method,
   verified here) give edges -> edges/0/<r>/.
3. ``attach`` per shard: the first document's sample joined to each pair -> pairs_b/<shard of b>/.
4. ``verify`` per shard: the second document's sample joined, Jaccard estimated, edges at or above
   the threshold -> edges/0/<r>/.
5. components.py: large-star / small-star rounds over edges/<i>/, then labels -> labels/<s>/.
6. ``members`` per shard: labels joined to document metadata, partitioned by component -> members/<r>/.
7. ``keep`` per partition: keeper choice (clusters.py) -> clusters/<s>/, read by the filter.
Clusters depend only on the documents and the config, never on S, R or the number of workers.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedup.clusters import CLUSTER_SCHEMA, keepers
from dedup.components import LABEL_SCHEMA, labels, star_round, write_edges
from dedup.config import DedupConfig
from dedup.groups import KEY_SCHEMA, all_pairs, chain_pairs, groups, key_rows, leader_edges, partition_of
from dedup.parts import read_part, write_parts, write_scratch
from dedup.signatures import SCOPE_COLUMN, SignatureStage, sample_arrays
from dedup.sketch import sample_jaccard

MapTasks = Callable[[Callable[..., dict], list[dict]], list[dict]]
PAIR_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64())])
MEMBER_SCHEMA = pa.schema([("root", pa.int64()), ("gid", pa.int64()), ("doc_id", pa.string()),
                           ("quality_score", pa.float64()), ("scope", pa.int64()), ("exact", pa.int64())])
MAX_ROUNDS = 200


def in_process(fn: Callable[..., dict], calls: list[dict]) -> list[dict]:
    """Run the task calls one after the other in this process."""
    return [fn(**call) for call in calls]


def num_partitions_for(num_docs: int, config: DedupConfig) -> int:
    """Partitions so that one holds about ``config.docs_per_partition`` documents' keys."""
    return max(1, -(-num_docs // config.docs_per_partition))


def _shard_of(gid: np.ndarray, offsets: list[int]) -> np.ndarray:
    return np.searchsorted(np.asarray(offsets, np.int64), gid, side="right") - 1


def _threshold(config: DedupConfig) -> float:
    return config.threshold if config.verify else -1.0


# --- 1. signatures and keys -------------------------------------------------------------------------
def sign(*, shard: dict, root: str, config: DedupConfig, num_partitions: int) -> dict:
    """Signatures of one input shard (path, offset) -> sigs/<index>.parquet, keys -> keys/<r>/."""
    columns = ["text", "doc_id", "quality_score"] + ([SCOPE_COLUMN[config.scope]] if SCOPE_COLUMN[config.scope] else [])
    table = pq.read_table(shard["path"], columns=columns)
    gid = np.arange(shard["offset"], shard["offset"] + table.num_rows, dtype=np.int64)
    sigs = SignatureStage(config)(table.append_column("gid", pa.array(gid)))
    keys = key_rows(sigs, *config.bands_rows)
    write_scratch(Path(root) / "sigs" / f"{shard['index']}.parquet", sigs.drop_columns(["sig"]))
    write_parts(
        keys, partition_of(keys.column("key").to_numpy(), num_partitions), Path(root) / "keys", f"s{shard['index']}"
    )
    return {"docs": table.num_rows, "keys": keys.num_rows}


def _sig_rows(root: str, offsets: list[int], gids: np.ndarray) -> pa.Table:
    """gid and sample of the documents ``gids`` (sorted, unique), read from their shards."""
    shard = _shard_of(gids, offsets)
    parts = []
    for s in np.unique(shard).tolist():
        table = pq.read_table(Path(root) / "sigs" / f"{s}.parquet", columns=["gid", "sample"])
        parts.append(table.take(pa.array(gids[shard == s] - offsets[s])))
    return pa.concat_tables(parts)


# --- 2. band groups ---------------------------------------------------------------------------------
def group(*, part: int, root: str, config: DedupConfig, offsets: list[int], num_partitions: int) -> dict:
    """Band groups of one key partition -> candidate pairs (small groups) and edges (exact, large groups)."""
    gid, starts, lengths, exact_G = groups(read_part(Path(root) / "keys", part, KEY_SCHEMA))
    exact_edges = chain_pairs(gid, starts[exact_G], lengths[exact_G])
    small = ~exact_G & (lengths <= config.verify_group_limit)
    pairs = all_pairs(gid, starts[small], lengths[small])
    if pairs.size:
        pairs = np.unique(pairs, axis=0)
    table = pa.Table.from_arrays(
        [pa.array(pairs[:, 0], pa.int64()), pa.array(pairs[:, 1], pa.int64())], schema=PAIR_SCHEMA
    )
    write_parts(table, _shard_of(pairs[:, 0], offsets), Path(root) / "pairs_a", f"p{part}")
    big = np.flatnonzero(~exact_G & (lengths > config.verify_group_limit))
    big_edges, left = _large_groups(gid, starts[big], lengths[big], root, config, offsets)
    edges = np.concatenate([exact_edges, big_edges])
    write_edges(edges[:, 0], edges[:, 1], Path(root) / "edges" / "0", f"g{part}", num_partitions)
    return {
        "candidates": len(pairs),
        "exact_edges": len(exact_edges),
        "large_groups": int(big.size),
        "large_group_edges": len(big_edges),
        "left_to_fallback": left,
    }


def _large_groups(gid, starts, lengths, root, config, offsets) -> tuple[np.ndarray, int]:
    """Verified edges of the large band groups of a partition (leader method), and members left over."""
    if starts.size == 0:
        return np.zeros((0, 2), np.int64), 0
    members = np.unique(np.concatenate([gid[s : s + n] for s, n in zip(starts, lengths)]))
    rows = _sig_rows(root, offsets, members)
    values, offsets_all = sample_arrays(rows)
    edges, left = [], 0
    for s, n in zip(starts.tolist(), lengths.tolist()):
        idx = np.searchsorted(members, gid[s : s + n])
        lo, hi = offsets_all[idx], offsets_all[idx + 1]
        sub_offsets = np.concatenate(([0], np.cumsum(hi - lo)))
        sub_values = np.concatenate([values[a:b] for a, b in zip(lo, hi)])
        smallest = np.where(hi > lo, values[np.minimum(lo, max(values.size - 1, 0))], np.uint32(0xFFFFFFFF))
        e, k = leader_edges(
            gid[s : s + n],
            sub_values,
            sub_offsets,
            _threshold(config),
            config.sample_size,
            config.max_leaders,
            np.argsort(smallest, kind="stable"),
        )
        edges.append(e)
        left += k
    return np.concatenate(edges), left


# --- 3, 4. verification joined to the signature shards -----------------------------------------------
def _samples_of(root: str, index: int) -> pa.Table:
    return pq.read_table(Path(root) / "sigs" / f"{index}.parquet", columns=["sample"])


def attach(*, index: int, root: str, offsets: list[int]) -> dict:
    """Pairs whose first document is in shard ``index`` get its sample; sent on to the shard of the second."""
    pairs = read_part(Path(root) / "pairs_a", index, PAIR_SCHEMA)
    if pairs.num_rows == 0:
        return {"pairs": 0}
    # a pair shares several bands, whose keys land in different partitions: verify it once
    unique = np.unique(np.stack([pairs.column("a").to_numpy(), pairs.column("b").to_numpy()], -1), axis=0)
    pairs = pa.Table.from_arrays([pa.array(unique[:, 0]), pa.array(unique[:, 1])], schema=PAIR_SCHEMA)
    a = pairs.column("a").to_numpy()
    sample = _samples_of(root, index).column("sample").take(pa.array(a - offsets[index]))
    table = pairs.append_column("a_sample", sample)
    write_parts(table, _shard_of(pairs.column("b").to_numpy(), offsets), Path(root) / "pairs_b", f"a{index}")
    return {"pairs": pairs.num_rows}


def verify(*, index: int, root: str, config: DedupConfig, offsets: list[int], num_partitions: int) -> dict:
    """Pairs whose second document is in shard ``index``: Jaccard from both samples, edges kept at the threshold."""
    schema = PAIR_SCHEMA.append(pa.field("a_sample", pa.list_(pa.uint32())))
    pairs = read_part(Path(root) / "pairs_b", index, schema)
    if pairs.num_rows == 0:
        return {"pairs": 0, "edges": 0}
    a, b = pairs.column("a").to_numpy(), pairs.column("b").to_numpy()
    b_sample = _samples_of(root, index).column("sample").take(pa.array(b - offsets[index]))
    a_values, a_offsets = sample_arrays(pairs.select(["a_sample"]).rename_columns(["sample"]))
    b_values, b_offsets = sample_arrays(pa.table({"sample": b_sample}))
    similar = sample_jaccard(a_values, a_offsets, b_values, b_offsets, config.sample_size) >= _threshold(config)
    edges = write_edges(a[similar], b[similar], Path(root) / "edges" / "0", f"v{index}", num_partitions)
    return {"pairs": len(a), "edges": edges}


# --- 6, 7. keepers ----------------------------------------------------------------------------------
def members(*, index: int, root: str, offsets: list[int], num_partitions: int) -> dict:
    """Labels of shard ``index``'s documents joined to their metadata, sent to the partition of their component."""
    labelled = read_part(Path(root) / "labels", index, LABEL_SCHEMA)
    if labelled.num_rows == 0:
        return {"members": 0}
    meta = pq.read_table(
        Path(root) / "sigs" / f"{index}.parquet", columns=["doc_id", "quality_score", "scope", "exact"]
    )
    meta = meta.take(pa.array(labelled.column("gid").to_numpy() - offsets[index]))
    table = pa.Table.from_arrays([labelled.column("root"), labelled.column("gid"), *meta.columns], schema=MEMBER_SCHEMA)
    write_parts(
        table, partition_of(labelled.column("root").to_numpy(), num_partitions), Path(root) / "members", f"s{index}"
    )
    return {"members": table.num_rows}


def keep(*, part: int, root: str, offsets: list[int]) -> dict:
    """Keeper of every component of partition ``part`` -> cluster rows, sent to the shard of each document."""
    clusters = keepers(read_part(Path(root) / "members", part, MEMBER_SCHEMA))
    write_parts(clusters, _shard_of(clusters.column("gid").to_numpy(), offsets), Path(root) / "clusters", f"r{part}")
    kept = int(np.count_nonzero(clusters.column("dup_kept").to_numpy(zero_copy_only=False)))
    return {"clustered": clusters.num_rows, "duplicates": clusters.num_rows - kept}


def shard_clusters(root: str | Path, index: int) -> pa.Table:
    """CLUSTER_SCHEMA rows of the documents of shard ``index`` that are in a cluster of two or more."""
    return read_part(Path(root) / "clusters", index, CLUSTER_SCHEMA)


# --- the driver -------------------------------------------------------------------------------------
def _total(results: list[dict], key: str) -> int:
    return int(sum(r.get(key, 0) for r in results))


def _components(root: Path, map_tasks: MapTasks, offsets: list[int], num_partitions: int) -> int:
    """Large-star / small-star rounds until a star forest; labels written. Returns the rounds run."""
    for rnd in range(MAX_ROUNDS):
        in_dir, out_dir = root / "edges" / str(rnd), root / "edges" / str(rnd + 1)
        calls = [
            dict(part=q, in_dir=str(in_dir), out_dir=str(out_dir), num_partitions=num_partitions, large=rnd % 2 == 0)
            for q in range(num_partitions)
        ]
        if _total(map_tasks(star_round, calls), "unstarred") == 0:
            map_tasks(
                labels,
                [
                    dict(part=q, in_dir=str(in_dir), out_dir=str(root / "labels"), offsets=offsets)
                    for q in range(num_partitions)
                ],
            )
            return rnd
        shutil.rmtree(in_dir, ignore_errors=True)
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds under {root}")


def run_chain(
    shards: list[dict],
    root: str | Path,
    config: DedupConfig,
    map_tasks: MapTasks = in_process,
    num_partitions: int | None = None,
) -> dict:
    """Cluster files under ``root`` for ``shards`` (dicts with path, offset, rows; gids are offset + row).

    ``root`` is emptied first. Returns counts; ``shard_clusters(root, i)`` then gives shard i's rows.
    """
    root = Path(root)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shards = [dict(s, index=i) for i, s in enumerate(shards)]
    offsets = [int(s["offset"]) for s in shards]
    docs = sum(int(s["rows"]) for s in shards)
    r = num_partitions or num_partitions_for(docs, config)
    root_s = str(root)
    signed = map_tasks(sign, [dict(shard=s, root=root_s, config=config, num_partitions=r) for s in shards])
    grouped = map_tasks(
        group, [dict(part=p, root=root_s, config=config, offsets=offsets, num_partitions=r) for p in range(r)]
    )
    map_tasks(attach, [dict(index=s["index"], root=root_s, offsets=offsets) for s in shards])
    verified = map_tasks(
        verify, [dict(index=s["index"], root=root_s, config=config, offsets=offsets, num_partitions=r) for s in shards]
    )
    rounds = _components(root, map_tasks, offsets, r)
    map_tasks(members, [dict(index=s["index"], root=root_s, offsets=offsets, num_partitions=r) for s in shards])
    kept = map_tasks(keep, [dict(part=p, root=root_s, offsets=offsets) for p in range(r)])
    for step in ("sigs", "keys", "pairs_a", "pairs_b", "edges", "labels", "members"):
        shutil.rmtree(root / step, ignore_errors=True)
    return {
        "documents": _total(signed, "docs"),
        "partitions": r,
        "candidates": _total(grouped, "candidates"),
        "exact_edges": _total(grouped, "exact_edges"),
        "large_groups": _total(grouped, "large_groups"),
        "left_to_fallback": _total(grouped, "left_to_fallback"),
        "near_edges": _total(verified, "edges") + _total(grouped, "large_group_edges"),
        "component_rounds": rounds,
        "clustered": _total(kept, "clustered"),
        "duplicates": _total(kept, "duplicates"),
    }
