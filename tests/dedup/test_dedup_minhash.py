"""Shingles, signatures (equal to datasketch's) and LSH parameters (equal to datasketch's choice)."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.minhash import MAX_HASH, MinHasher, band_keys, estimated_jaccard, optimal_param
from dedup.shingles import char_shingles, normalize, shingles, word_shingles
from dedup_testdata import make_doc, near_copy

datasketch = pytest.importorskip("datasketch")


def test_normalize_ignores_case_spacing_and_punctuation():
    assert normalize("  Hello,   WORLD!\n\tok ") == "hello world ok"
    assert normalize(None) == "" and normalize("?!") == ""


def test_word_shingles_are_joined_ngrams_and_short_documents_give_one():
    assert word_shingles("a b c d", 2) == [b"a b", b"b c", b"c d"]
    assert word_shingles("caf\u00e9 au lait", 2) == ["caf\u00e9 au".encode(), b"au lait"]
    assert word_shingles("one", 5) == [b"one"]
    assert word_shingles("", 5) == []
    assert char_shingles("abcd", 3) == [b"abc", b"bcd"]
    assert shingles("ab", 3, "char") == [b"ab"]


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7)])
def test_signatures_equal_datasketch_legacy_minhash(num_perm, seed):
    texts = [make_doc(i, 40) for i in range(5)] + ["one", "Ünïcode wörds ärë fine hère too ok"]
    sets = [shingles(normalize(t), 5) for t in texts]
    sig = MinHasher(num_perm, seed).signatures(sets)
    for items, row in zip(sets, sig):
        m = datasketch.MinHash(num_perm=num_perm, seed=seed, scheme="legacy")
        for item in items:
            m.update(item)
        np.testing.assert_array_equal(row, m.hashvalues)


def test_empty_document_signature_is_max_hash_and_batches_are_order_free():
    hasher = MinHasher(32, 1)
    a = [shingles(normalize(make_doc(i)), 5) for i in range(3)]
    sig = hasher.signatures([a[0], [], a[1], a[2]])
    assert (sig[1] == MAX_HASH).all()
    np.testing.assert_array_equal(sig[[0, 2, 3]], hasher.signatures(a))
    np.testing.assert_array_equal(hasher.signatures(a[::-1])[::-1], hasher.signatures(a))


def test_signatures_are_deterministic_for_a_seed():
    sets = [shingles(normalize(make_doc(i)), 5) for i in range(4)]
    np.testing.assert_array_equal(MinHasher(64, 3).signatures(sets), MinHasher(64, 3).signatures(sets))
    assert not np.array_equal(MinHasher(64, 3).signatures(sets), MinHasher(64, 4).signatures(sets))


def test_estimated_jaccard_tracks_true_jaccard():
    a = make_doc(1, 200)
    b = near_copy(a, 3)
    sa, sb = (set(shingles(normalize(t), 5)) for t in (a, b))
    true = len(sa & sb) / len(sa | sb)
    sig = MinHasher(256, 1).signatures([list(sa), list(sb)])
    assert abs(estimated_jaccard(sig[0], sig[1]) - true) < 0.1


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm,fn_weight", [(64, 0.5), (128, 0.5), (128, 0.9)])
def test_optimal_param_matches_datasketch(threshold, num_perm, fn_weight):
    from datasketch.lsh import _optimal_param

    want = _optimal_param(threshold, num_perm, 1 - fn_weight, fn_weight)
    assert optimal_param(threshold, num_perm, 1 - fn_weight, fn_weight) == want


def test_band_keys_separate_scopes_and_bands():
    sig = np.tile(np.arange(8, dtype=np.uint32), (2, 1))
    same = band_keys(sig, 2, 4)
    assert (same[0] == same[1]).all() and same[0, 0] != same[0, 1]
    scoped = band_keys(sig, 2, 4, np.array([1, 2]))
    assert (scoped[0] != scoped[1]).all()


def test_permutation_fold_matches_big_integer_arithmetic_near_the_prime():
    from dedup.minhash import _permute_min

    prime = (1 << 61) - 1
    a = np.array([1, 3, (1 << 61) - 2], dtype=np.uint64)
    b = np.array([prime - 5, prime - 1, prime - 2], dtype=np.uint64)
    h = np.arange(0, 12, dtype=np.uint32)
    got = _permute_min(h, np.arange(12), a, b)
    want = [[((int(ai) * int(hi) + int(bi)) % (1 << 64)) % prime & 0xFFFFFFFF for ai, bi in zip(a, b)] for hi in h]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.uint32))
