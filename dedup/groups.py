"""Band keys and band groups: which documents are compared with which.

Each document gets one key per LSH band (``minhash.band_keys``) and one exact key (its scope and
normalised-text hash). Documents sharing a key form a group; the chain brings every row of a key to
one partition (hash partitioning), so a group is always whole in one task, whatever the number of
partitions. Per group:
- exact groups: every member is a duplicate of every other, so a chain in gid order joins them;
- band groups of at most ``verify_group_limit`` members: every pair is a candidate, verified later;
- larger band groups: the leader method (``leader_edges``), verified here.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedup.minhash import band_keys
from dedup.signatures import signature_matrix
from dedup.sketch import fmix64, sample_jaccard

KEY_SCHEMA = pa.schema([("key", pa.int64()), ("gid", pa.int64()), ("exact", pa.bool_())])
BAND, EXACT = False, True


def key_rows(sigs: pa.Table, bands: int, rows: int) -> pa.Table:
    """KEY_SCHEMA rows of a signature table: a band key per band (documents with shingles) and an exact key."""
    gid = sigs.column("gid").to_numpy()
    scope = sigs.column("scope").to_numpy()
    has = sigs.column("n_shingles").to_numpy() > 0
    band_DB = band_keys(signature_matrix(sigs)[has], bands, rows, scope[has])
    exact = fmix64(sigs.column("exact").to_numpy().view(np.uint64) ^ fmix64(scope.view(np.uint64).copy())).view(
        np.int64
    )
    key = np.concatenate([band_DB.ravel(), exact])
    return pa.Table.from_arrays(
        [
            pa.array(key, pa.int64()),
            pa.array(np.concatenate([np.repeat(gid[has], bands), gid]), pa.int64()),
            pa.array(np.repeat([BAND, EXACT], [band_DB.size, gid.size])),
        ],
        schema=KEY_SCHEMA,
    )


def partition_of(values: np.ndarray, num_partitions: int) -> np.ndarray:
    """Partition (0 .. num_partitions - 1) of each int64 value, by a hash of the value."""
    return (fmix64(values.astype(np.int64).view(np.uint64).copy()) % np.uint64(num_partitions)).astype(np.int64)


def runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal values in a sorted array."""
    if sorted_values.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    return starts, np.diff(np.append(starts, sorted_values.size))


def groups(keys: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(gid sorted by group then gid, group starts, group lengths, group is exact) of groups of two or more."""
    key, gid, exact = (keys.column(c).to_numpy(zero_copy_only=False) for c in ("key", "gid", "exact"))
    order = np.lexsort((gid, key, exact))
    key, gid, exact = key[order], gid[order], exact[order]
    fresh = np.concatenate(([True], (key[1:] != key[:-1]) | (gid[1:] != gid[:-1]) | (exact[1:] != exact[:-1])))
    key, gid, exact = key[fresh], gid[fresh], exact[fresh]
    new_group = np.concatenate(([True], (key[1:] != key[:-1]) | (exact[1:] != exact[:-1]))) if key.size else key
    starts, all_lengths = runs(np.cumsum(new_group))
    keep = all_lengths >= 2
    exact_G, lengths = exact[starts[keep]], all_lengths[keep]
    gid = gid[np.repeat(keep, all_lengths)]
    return gid, np.cumsum(lengths) - lengths, lengths, exact_G


def chain_pairs(gid: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(N, 2) pairs (previous member, member) along each group, in gid order."""
    n = lengths - 1
    idx = np.repeat(starts, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + 1
    return np.stack([gid[idx - 1], gid[idx]], axis=-1)


def all_pairs(gid: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(N, 2) pairs (low gid, high gid) of every two members of each group."""
    out = [np.zeros((0, 2), np.int64)]
    for size in np.unique(lengths):
        first_G = starts[lengths == size]
        i, j = np.triu_indices(size, k=1)
        out.append(np.stack([gid[first_G[:, None] + i], gid[first_G[:, None] + j]], -1).reshape(-1, 2))
    return np.concatenate(out)


def leader_edges(
    gid: np.ndarray,
    values: np.ndarray,
    offsets: np.ndarray,
    threshold: float,
    sample_size: int,
    max_leaders: int,
    order: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Verified edges of one large band group, and how many members were left to the fallback.

    Members are taken in gid order. The first member not yet in a cluster becomes a leader and is
    compared with every member of the group; members at or above the threshold join it. Repeat
    until every member is a leader or has joined one. So every member either compared itself with
    the whole group (a leader) or is joined to a true near duplicate (its leader). Past
    ``max_leaders`` leaders, the members left are compared with their neighbour in ``order`` (the
    group sorted by smallest shingle hash) only.
    """
    n = gid.size
    lengths = np.diff(offsets)
    free = np.ones(n, bool)
    edges = [np.zeros((0, 2), np.int64)]
    for _ in range(max_leaders):
        if not free.any():
            break
        lead = int(np.argmax(free))
        a_off = np.arange(n + 1, dtype=np.int64) * lengths[lead]
        a_val = np.tile(values[offsets[lead] : offsets[lead + 1]], n)
        near = sample_jaccard(a_val, a_off, values, offsets, sample_size) >= threshold
        near[lead] = False
        edges.append(np.stack([np.full(near.sum(), gid[lead]), gid[near]], axis=-1))
        free[lead] = False
        free &= ~near
    left = int(free.sum())
    if left:
        rest = order[free[order]]
        a, b = rest[:-1], rest[1:]
        sizes_a, sizes_b = lengths[a], lengths[b]
        a_off = np.concatenate(([0], np.cumsum(sizes_a)))
        b_off = np.concatenate(([0], np.cumsum(sizes_b)))
        a_val = np.concatenate([values[offsets[i] : offsets[i + 1]] for i in a]) if a.size else values[:0]
        b_val = np.concatenate([values[offsets[i] : offsets[i + 1]] for i in b]) if b.size else values[:0]
        near = sample_jaccard(a_val, a_off, b_val, b_off, sample_size) >= threshold
        edges.append(np.stack([gid[a[near]], gid[b[near]]], axis=-1))
    return np.concatenate(edges), left
