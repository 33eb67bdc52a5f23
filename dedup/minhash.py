"""Vectorised MinHash signatures with datasketch's hash family, and LSH band parameters and keys.

Shape suffixes: S shingles, D documents, P permutations, B bands, R rows per band.

Signatures equal ``datasketch.MinHash(num_perm=P, seed=seed, scheme="legacy")`` updated with every
shingle: each shingle is hashed with ``sha1_hash32``; permutation k maps a hash h to
``((a_k * h + b_k) mod 2**64) mod (2**61 - 1)``, truncated to 32 bits, with (a_k, b_k) drawn from
``np.random.RandomState(seed)`` in datasketch's order. The uint64 wrap-around of ``a_k * h`` is part
of datasketch's arithmetic, so it is reproduced, not avoided. Values fit in 32 bits and are stored as
uint32 (half the memory of datasketch's uint64 array).

Instead of one Python call per shingle, a batch of documents is hashed into one array h_S, permuted
as one (S, P) matrix in cache-sized chunks, and reduced per document with ``np.minimum.reduceat``.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from dedup.shingles import sha1_hash32

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint32((1 << 32) - 1)
"""Signature value of a document without shingles (datasketch's initial hash value)."""

_CHUNK_ELEMENTS = 1 << 18  # S * P elements permuted at once: 2 MiB of uint64, stays in cache
_SHIFT61 = np.uint64(61)
_LOW32 = 0 if sys.byteorder == "little" else 1


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's legacy permutation parameters (a_P, b_P), drawn in its order from RandomState(seed)."""
    gen = np.random.RandomState(seed)
    pairs = [
        (gen.randint(1, MERSENNE_PRIME, dtype=np.uint64), gen.randint(0, MERSENNE_PRIME, dtype=np.uint64))
        for _ in range(num_perm)
    ]
    a_P, b_P = np.array(pairs, dtype=np.uint64).T
    return np.ascontiguousarray(a_P), np.ascontiguousarray(b_P)


def _permute_min(h_S: np.ndarray, starts_D: np.ndarray, a_P: np.ndarray, b_P: np.ndarray) -> np.ndarray:
    """(D, P) per-document minimum of the permuted hashes; documents are the segments at starts_D.

    The matrix is laid out (P, S) so that each document's segment is contiguous for reduceat.
    x mod (2**61 - 1) needs no division: with x = hi * 2**61 + lo, it is lo + hi (hi < 8), minus the
    prime in the rare case that reaches it. Only the low 32 bits are kept (datasketch's
    ``& _max_hash``), and those are low32(x) + hi, computed on 32-bit halves of x.
    """
    x_PS = np.multiply.outer(a_P, h_S.astype(np.uint64))  # wraps mod 2**64, as datasketch does
    x_PS += b_P[:, None]
    halves = x_PS.view(np.uint32)
    low_PS, high_PS = halves[:, _LOW32::2], halves[:, 1 - _LOW32 :: 2]
    out_PS = high_PS >> np.uint32(29)  # hi: the top 3 bits of x
    out_PS += low_PS
    if (low_PS >= np.uint32(0xFFFFFFF8)).any():  # lo + hi can reach the prime only here
        y_PS = (x_PS & MERSENNE_PRIME) + (x_PS >> _SHIFT61)
        fix = y_PS >= MERSENNE_PRIME
        out_PS[fix] = (y_PS[fix] - MERSENNE_PRIME).astype(np.uint32)
    return np.minimum.reduceat(out_PS, starts_D, axis=1).T


class MinHasher:
    """Signatures of many documents at once.

    Args:
        num_perm: number of permutations P (datasketch's ``num_perm``).
        seed: seed of the permutations (datasketch's ``seed``).
    """

    def __init__(self, num_perm: int = 128, seed: int = 1):
        self.num_perm = num_perm
        self.seed = seed
        self.a_P, self.b_P = permutations(num_perm, seed)

    def signatures(self, shingle_sets: list[list[bytes]]) -> np.ndarray:
        """(D, P) uint32 signatures; a document without shingles gets MAX_HASH everywhere."""
        sig_DP = np.full((len(shingle_sets), self.num_perm), MAX_HASH, dtype=np.uint32)
        rows_per_chunk = max(1, _CHUNK_ELEMENTS // self.num_perm)
        chunk_docs: list[int] = []
        chunk_items: list[bytes] = []
        for d, items in enumerate(shingle_sets):
            if not items:
                continue
            if chunk_items and len(chunk_items) + len(items) > rows_per_chunk:
                self._fill(sig_DP, chunk_docs, chunk_items, shingle_sets)
                chunk_docs, chunk_items = [], []
            chunk_docs.append(d)
            chunk_items.extend(items)
        if chunk_items:
            self._fill(sig_DP, chunk_docs, chunk_items, shingle_sets)
        return sig_DP

    def _fill(self, sig_DP: np.ndarray, docs: list[int], items: list[bytes], shingle_sets: list) -> None:
        lengths = np.fromiter((len(shingle_sets[d]) for d in docs), dtype=np.int64, count=len(docs))
        starts_D = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        sig_DP[docs] = _permute_min(sha1_hash32(items), starts_D, self.a_P, self.b_P)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Fraction of equal signature values, row by row (datasketch's ``MinHash.jaccard``)."""
    return np.count_nonzero(sig_a == sig_b, axis=-1) / sig_a.shape[-1]


@functools.lru_cache(maxsize=64)
def optimal_param(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive + false negative probability mass.

    The method of datasketch's ``lsh._optimal_param``, over the same (b, r) grid in the same order.
    The integrands are polynomials of degree at most ``num_perm``, so Gauss-Legendre quadrature with
    ``num_perm // 2 + 1`` nodes integrates them exactly (datasketch calls ``scipy.integrate.quad``).
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b_K = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    r_K = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(lo: float, hi: float, candidate: bool) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        p_collide = 1 - (1 - s[None, :] ** r_K) ** b_K
        values = p_collide if candidate else 1 - p_collide
        return (hi - lo) / 2 * (values @ weights)

    false_pos = integral(0.0, threshold, candidate=True)
    false_neg = integral(threshold, 1.0, candidate=False)
    error = false_pos * false_positive_weight + false_neg * false_negative_weight
    return pairs[int(np.argmin(error))]


_FNV_PRIME = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (an avalanching bijection), in place on a uint64 array."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def band_keys(sig_DP: np.ndarray, bands: int, rows: int, scope_D: np.ndarray | None = None) -> np.ndarray:
    """(D, B) int64 keys: a hash of each band's R values, its band index and the document's scope.

    Two documents share a key only if they agree on a whole band (up to 64-bit hash collisions, which
    verification removes) and are in the same scope, so grouping by key alone groups by band and scope.
    """
    d = sig_DP.shape[0]
    v_DBR = sig_DP[:, : bands * rows].reshape(d, bands, rows).astype(np.uint64)
    h_DB = np.broadcast_to((np.arange(bands, dtype=np.uint64) + np.uint64(1)) * _GOLDEN, (d, bands)).copy()
    if scope_D is not None:
        h_DB ^= scope_D.astype(np.uint64)[:, None]
    for j in range(rows):
        h_DB ^= v_DBR[:, :, j]
        h_DB *= _FNV_PRIME
        _fmix64(h_DB)
    return h_DB.view(np.int64)
