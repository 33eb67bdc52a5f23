"""Steps 2 and 3 of 4: LSH band keys, grouped across the whole data set into candidate pairs.

Each document gets one key per band (``minhash.band_keys``); documents that share a key are
candidates. Grouping needs every row of a key in one place: under Ray the band-key rows are sorted by
key (a shuffle), and ``BandGroupStage`` runs on whole sorted blocks. It keeps the members of groups
with two or more rows, plus the first and last group of the block whatever their size, because a key
can straddle two sorted blocks; the driver groups those rows once more with ``group_members`` (a
cheap pass: only candidates and boundaries reach it). In a plain loop the whole table is one block.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedup.config import DedupConfig
from dedup.minhash import band_keys
from dedup.signatures import signature_matrix

KEY_SCHEMA = pa.schema([("key", pa.int64()), ("gid", pa.int64())])


class BandKeyStage:
    """Signature rows -> band-key rows (key, gid); documents without shingles get no keys.

    Args:
        config: the dedup config; bands and rows come from its threshold and num_perm.
    """

    def __init__(self, config: DedupConfig):
        self.bands, self.rows = config.bands_rows

    def __call__(self, table: pa.Table) -> pa.Table:
        has = table.column("n_shingles").to_numpy() > 0
        sig_DP = signature_matrix(table)[has]
        scope_D = table.column("scope").to_numpy()[has]
        gid_D = table.column("gid").to_numpy()[has]
        key_DB = band_keys(sig_DP, self.bands, self.rows, scope_D)
        gid_DB = np.repeat(gid_D, self.bands)
        return pa.Table.from_arrays(
            [pa.array(key_DB.ravel(), pa.int64()), pa.array(gid_DB, pa.int64())], schema=KEY_SCHEMA
        )


def _runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal values in a sorted array."""
    if key.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    lengths = np.diff(np.append(starts, key.size))
    return starts, lengths


def group_members(key: np.ndarray, gid: np.ndarray, keep_boundaries: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows (key, gid) of groups with at least two distinct documents, sorted by key then gid.

    With ``keep_boundaries`` the first and last group are kept even when they are singletons.
    """
    order = np.lexsort((gid, key))
    key, gid = key[order], gid[order]
    # The same document can hit one key twice only through a 64-bit collision between its bands.
    fresh = np.concatenate(([True], (key[1:] != key[:-1]) | (gid[1:] != gid[:-1])))
    key, gid = key[fresh], gid[fresh]
    starts, lengths = _runs(key)
    keep = lengths >= 2
    if keep_boundaries and keep.size:
        keep[0] = keep[-1] = True
    row_keep = np.repeat(keep, lengths)
    return key[row_keep], gid[row_keep]


class BandGroupStage:
    """Band-key rows of one sorted block -> rows of candidate groups and of the block's boundary groups."""

    def __init__(self, config: DedupConfig | None = None):
        self.config = config

    def __call__(self, table: pa.Table) -> pa.Table:
        key, gid = group_members(table.column("key").to_numpy(), table.column("gid").to_numpy(), True)
        return pa.Table.from_arrays([pa.array(key, pa.int64()), pa.array(gid, pa.int64())], schema=KEY_SCHEMA)


def candidate_pairs(key: np.ndarray, gid: np.ndarray, all_pairs_limit: int) -> np.ndarray:
    """(N, 2) unique pairs (low gid, high gid) of documents sharing a band key.

    Groups up to ``all_pairs_limit`` members give every pair; larger groups give a star around their
    smallest gid (enough for connectivity, and verification still checks each edge).
    """
    key, gid = group_members(key, gid)
    starts, lengths = _runs(key)
    pairs = [_star_pairs(gid, starts, lengths)]
    small = (lengths > 2) & (lengths <= all_pairs_limit)
    for size in np.unique(lengths[small]):
        first_G = starts[small & (lengths == size)]
        i, j = np.triu_indices(size, k=1)
        keep = i > 0  # pairs with the first member are already in the star
        pairs.append(np.stack([gid[first_G[:, None] + i[keep]], gid[first_G[:, None] + j[keep]]], -1).reshape(-1, 2))
    out = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    return np.unique(np.sort(out, axis=1), axis=0) if out.size else out.reshape(0, 2)


def _star_pairs(gid: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Pairs (first member, other member) of every group."""
    if gid.size == 0:
        return np.zeros((0, 2), np.int64)
    first = np.repeat(gid[starts], lengths)
    not_first = np.ones(gid.size, bool)
    not_first[starts] = False
    return np.stack([first[not_first], gid[not_first]], axis=-1)
