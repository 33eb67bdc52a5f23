"""LSH band parameters and band keys over MinHash signatures (signatures: ``sketch.py``).

Shape suffixes: D documents, P signature values, B bands, R rows per band.
"""

from __future__ import annotations

import functools

import numpy as np

from dedup.sketch import fmix64


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
        fmix64(h_DB)
    return h_DB.view(np.int64)
