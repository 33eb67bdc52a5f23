"""Vectorised sketches of a batch of documents: one-permutation MinHash signatures and bottom-k samples.

Shape suffixes: T tokens (words or characters), S shingles, D documents, P signature bins, K sample size.

A batch of normalised texts is joined into one buffer and hashed with numpy only, no Python call per
word or shingle:
1. tokens: words hashed with a polynomial prefix hash mod 2**64 over the UTF-8 bytes (``char``
   shingles: code points), mixed by MurmurHash3's 64-bit finaliser;
2. shingles: ``ngram`` consecutive tokens of one document combined (a weighted sum, then mixed) into
   one 64-bit hash; a document shorter than one shingle gets one shingle of all its tokens;
3. one sort of (document, shingle hash) keys gives both sketches of every document:
   - the signature: one-permutation MinHash (Li, Owen and Zhang 2012). The hash range is cut into P
     equal bins; bin p holds the minimum hash falling into it. Empty bins borrow the value of the
     next non-empty bin to the right, circularly, shifted by the distance (rotation densification,
     Shrivastava and Li 2014), so two equal sets have equal signatures and P(equal bin) ~ Jaccard;
   - the sample: the K smallest distinct shingle hashes (a bottom-k sketch). The Jaccard of two
     documents estimated from their samples (``sample_jaccard``) is exact when both have at most K
     shingles, and otherwise has standard deviation about sqrt(J (1 - J) / K).
Signatures band the documents into LSH candidates; samples verify the candidates.

Values are stored as uint32: the signature keeps the low 32 bits of the bin's minimum hash, the sample
the high 32 bits of each hash (order preserving, so bottom-k merges of samples stay bottom-k).
These signatures are not datasketch's (see docs/DECISIONS.md): datasketch needs P multiplications per
shingle, this needs one hash and one sort per shingle.
"""

from __future__ import annotations

import functools

import numpy as np

EMPTY = np.uint32(0xFFFFFFFF)
"""Signature value of a document without shingles."""

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_BASE = 0x100000001B3  # odd, so invertible mod 2**64
_KEY_BITS = 44  # low bits of a sort key holding the shingle hash; the document index sits above them
_DENSIFY = np.uint32(0x9E3779B1)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (an avalanching bijection), in place on a uint64 array."""
    h ^= h >> np.uint64(33)
    h *= _M1
    h ^= h >> np.uint64(33)
    h *= _M2
    h ^= h >> np.uint64(33)
    return h


@functools.lru_cache(maxsize=4)
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**i and BASE**-i mod 2**64 for i < n (numpy wraps uint64 products)."""
    inverse = pow(_BASE, -1, 1 << 64)
    pw = np.full(n, _BASE, np.uint64)
    inv = np.full(n, inverse, np.uint64)
    pw[0] = inv[0] = 1
    return np.multiply.accumulate(pw), np.multiply.accumulate(inv)


def _capacity(n: int) -> int:
    return 1 << max(16, int(n - 1).bit_length())


def _word_tokens(texts: list[bytes], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(token hashes h_T, tokens per document n_D) for words separated by single spaces."""
    data = np.frombuffer(b"\n".join(texts) + b"\n", np.uint8)
    pw, inv = _powers(_capacity(data.size + 1))
    prefix = np.zeros(data.size + 1, np.uint64)
    np.multiply(data, pw[: data.size], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    # word bytes are > 32 (normalised text has only word characters, spaces and the newlines between
    # documents), so words start and end where "is a word byte" flips: one pass, one nonzero
    word = np.zeros(data.size + 2, np.int8)
    np.greater(data, 32, out=word[1:-1].view(bool))
    flips = np.flatnonzero(np.diff(word))
    starts, ends = flips[0::2], flips[1::2]
    h_T = (prefix[ends] - prefix[starts]) * inv[starts]
    h_T ^= (ends - starts).astype(np.uint64) + np.uint64(seed * 0x9E3779B97F4A7C15 % (1 << 64))
    fmix64(h_T)
    newlines = np.cumsum(np.fromiter((len(t) + 1 for t in texts), np.int64, len(texts))) - 1
    n_D = np.diff(np.searchsorted(starts, newlines), prepend=0)
    return h_T, n_D


def _char_tokens(texts: list[bytes], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(token hashes h_T, tokens per document n_D) for the characters of each text."""
    texts = [t.decode("utf-8") for t in texts]
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32)
    h_T = codes.astype(np.uint64) * np.uint64(_BASE) + np.uint64(seed)
    fmix64(h_T)
    return h_T, np.array([len(t) for t in texts], np.int64)


def shingle_hashes(texts: list[bytes], ngram: int, unit: str = "word", seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(h_S uint64 hashes of every shingle, in document order; shingles per document n_D).

    ``texts`` are normalised UTF-8 (``shingles.normalize_bytes``): words joined by single spaces.
    """
    if unit == "word":
        h_T, n_D = _word_tokens(texts, seed)
    elif unit == "char":
        h_T, n_D = _char_tokens(texts, seed)
    else:
        raise ValueError(f"unknown shingle unit {unit!r}; expected 'word' or 'char'")
    t = h_T.size
    first_D = np.cumsum(n_D) - n_D  # index of each document's first token
    mult = np.uint64(0x9E3779B97F4A7C15)
    acc = h_T.copy()  # acc[i] combines tokens i .. i + ngram - 1, also across document ends (masked below)
    for k in range(1, ngram):
        acc *= mult
        acc[: t - k] += h_T[k:]
    # a shingle starts where a whole n-gram fits, or at the first token of a short document
    long_D = n_D >= ngram
    opens = np.bincount(first_D[long_D], minlength=t + 1)
    closes = np.bincount(first_D[long_D] + n_D[long_D] - ngram + 1, minlength=t + 1)
    valid = np.cumsum(opens[:t] - closes[:t]).astype(bool)
    short = first_D[~long_D & (n_D > 0)]
    if short.size:  # a short document's one shingle holds only its own tokens
        n_short = n_D[~long_D & (n_D > 0)]
        tail = h_T[short]
        for k in range(1, ngram):
            tail = tail * mult + np.where(n_short > k, h_T[np.minimum(short + k, t - 1)], np.uint64(0))
        acc[short] = tail
        valid[short] = True
    h_S = fmix64(acc[valid])
    per_doc = np.where(n_D >= ngram, n_D - ngram + 1, np.minimum(n_D, 1))
    return h_S, per_doc


def sketch(
    h_S: np.ndarray, n_D: np.ndarray, num_bins: int, sample_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(signatures sig_DP uint32, sample values uint32, sample offsets (D + 1), distinct shingles per doc).

    ``h_S`` holds the shingle hashes of D documents in order, ``n_D[d]`` of them for document d.
    """
    d = n_D.size
    doc_S = np.repeat(np.arange(d, dtype=np.uint64), n_D)
    keys = (doc_S << np.uint64(_KEY_BITS)) | (h_S >> np.uint64(64 - _KEY_BITS))
    keys.sort()
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if keys.size else keys
    doc = (keys >> np.uint64(_KEY_BITS)).astype(np.int64)
    low = keys & np.uint64((1 << _KEY_BITS) - 1)
    distinct_D = np.bincount(doc, minlength=d)
    first_D = np.cumsum(distinct_D) - distinct_D

    # bottom-k sample: the first K keys of each document (keys are sorted), high 32 bits of the hash
    rank = np.arange(keys.size) - first_D[doc]
    take = rank < sample_size
    sample = (low[take] >> np.uint64(_KEY_BITS - 32)).astype(np.uint32)
    offsets = np.zeros(d + 1, np.int64)
    np.cumsum(np.minimum(distinct_D, sample_size), out=offsets[1:])

    # one-permutation MinHash: bin = which of P equal slices of the hash range; first key = minimum
    if num_bins & (num_bins - 1) == 0:  # a power of two: doc * P + bin are the top bits of the key
        cell = (keys >> np.uint64(_KEY_BITS - num_bins.bit_length() + 1)).astype(np.int64)
    else:
        cell = doc * num_bins + ((low * np.uint64(num_bins)) >> np.uint64(_KEY_BITS)).astype(np.int64)
    head = np.concatenate(([True], cell[1:] != cell[:-1])) if cell.size else np.zeros(0, bool)
    sig = np.full(d * num_bins, EMPTY, np.uint32)
    sig[cell[head]] = (low[head] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    sig_DP = sig.reshape(d, num_bins)
    filled = np.zeros(d * num_bins, bool)
    filled[cell[head]] = True
    return _densify(sig_DP, filled.reshape(d, num_bins)), sample, offsets, distinct_D


def _densify(sig_DP: np.ndarray, filled_DP: np.ndarray) -> np.ndarray:
    """Empty bins take the next filled bin to the right (circularly), shifted by the distance."""
    d, p = sig_DP.shape
    if filled_DP.all() or d == 0:
        return sig_DP
    idx = np.where(filled_DP, np.arange(p), 2 * p + 1)
    twice = np.concatenate([idx, idx + p], axis=1)
    nearest = np.minimum.accumulate(twice[:, ::-1], axis=1)[:, ::-1][:, :p]
    has_any = filled_DP.any(axis=1)
    nearest = np.where(has_any[:, None], nearest, np.arange(p))
    dist = (nearest - np.arange(p)).astype(np.uint32)
    out = np.take_along_axis(sig_DP, nearest % p, axis=1) + dist * _DENSIFY
    return np.where(has_any[:, None] & ~filled_DP, out, sig_DP)


def sample_jaccard(
    a_values: np.ndarray, a_offsets: np.ndarray, b_values: np.ndarray, b_offsets: np.ndarray, sample_size: int
) -> np.ndarray:
    """Jaccard of N pairs estimated from their bottom-k samples (pair i: a's row i against b's row i).

    Samples are the rows ``values[offsets[i]:offsets[i + 1]]``, sorted and distinct. For each pair the
    K smallest values of the union are taken; the estimate is the share of them in both samples.
    """
    n = a_offsets.size - 1
    if n == 0:
        return np.zeros(0)
    a_len, b_len = np.diff(a_offsets), np.diff(b_offsets)
    pair = np.concatenate(
        [np.repeat(np.arange(n, dtype=np.uint64), a_len), np.repeat(np.arange(n, dtype=np.uint64), b_len)]
    )
    vals = np.concatenate([a_values, b_values]).astype(np.uint64)
    keys = np.sort((pair << np.uint64(32)) | vals)
    if keys.size == 0:
        return np.ones(n)
    fresh = np.concatenate(([True], keys[1:] != keys[:-1]))
    both = np.concatenate((keys[1:] == keys[:-1], [False]))[fresh]  # a value's second copy follows it
    union = keys[fresh]
    owner = (union >> np.uint64(32)).astype(np.int64)
    size_N = np.bincount(owner, minlength=n)
    rank = np.arange(union.size) - (np.cumsum(size_N) - size_N)[owner]
    top = rank < sample_size
    shared = np.bincount(owner[top & both], minlength=n)
    counted = np.bincount(owner[top], minlength=n)
    return np.where(counted > 0, shared / np.maximum(counted, 1), 1.0)
