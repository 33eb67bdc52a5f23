"""Shingles, vectorised sketches (signatures and samples) and LSH parameters (datasketch's choice)."""

from __future__ import annotations

import numpy as np
import pytest
from dedup_testdata import make_doc, near_copy

from dedup.minhash import band_keys, optimal_param
from dedup.shingles import char_shingles, normalize, normalize_bytes, shingles, word_shingles
from dedup.sketch import EMPTY, sample_jaccard, shingle_hashes, sketch


def test_normalize_ignores_case_spacing_and_punctuation():
    assert normalize("  Hello,   WORLD!\n\tok ") == "hello world ok"
    assert normalize(None) == "" and normalize("?!") == ""


@pytest.mark.parametrize("text", ["  Hello,   WORLD!\n\tok_1 ", "Ünïcode wörds, ärë fine—hère", "", "a-b_c d\u00a0e",
                                  "It’s “quoted” — done…", "İstanbul \u212a", "Ⓐ Ⅻ x", "日本語 text", "a\u0301b ٣"])
def test_byte_normalisation_equals_the_regex_one(text):
    assert normalize_bytes(text) == normalize(text).encode("utf-8")


def test_word_shingles_are_joined_ngrams_and_short_documents_give_one():
    assert word_shingles("a b c d", 2) == [b"a b", b"b c", b"c d"]
    assert word_shingles("caf\u00e9 au lait", 2) == ["caf\u00e9 au".encode(), b"au lait"]
    assert word_shingles("one", 5) == [b"one"]
    assert word_shingles("", 5) == []
    assert char_shingles("abcd", 3) == [b"abc", b"bcd"]
    assert shingles("ab", 3, "char") == [b"ab"]


def _hashes(texts, ngram=5, unit="word"):
    return shingle_hashes([normalize_bytes(t) for t in texts], ngram, unit)


@pytest.mark.parametrize("unit,ngram", [("word", 5), ("word", 1), ("char", 4)])
def test_shingle_hashes_match_the_python_shingle_sets(unit, ngram):
    texts = [make_doc(i, 30) for i in range(4)] + ["one", "", "two words", "Ünïcode wörds ärë fine hère too ok"]
    h_S, n_D = _hashes(texts, ngram, unit)
    assert n_D.tolist() == [len(shingles(normalize(t), ngram, unit)) for t in texts]
    bounds = np.concatenate(([0], np.cumsum(n_D)))
    for d, t in enumerate(texts):  # equal shingles hash equal, different ones differ
        py = shingles(normalize(t), ngram, unit)
        ours = h_S[bounds[d] : bounds[d + 1]]
        assert len(set(py)) == len(set(ours.tolist()))
        assert all((ours[i] == ours[j]) == (py[i] == py[j]) for i in range(len(py)) for j in range(len(py)))


def test_a_shingle_hashes_the_same_in_any_document_and_batch():
    doc = make_doc(1, 20)
    alone, _ = _hashes([doc])
    inside, n_D = _hashes(["x y z", doc + " tail words here", "other"])
    assert set(alone.tolist()) <= set(inside.tolist())


def test_empty_documents_get_empty_signatures_and_samples_and_batches_are_order_free():
    texts = [make_doc(i) for i in range(3)]
    sig, values, offsets, distinct = sketch(*_hashes([texts[0], "", texts[1], texts[2]]), 64, 32)
    assert (sig[1] == EMPTY).all() and offsets[2] == offsets[1] and distinct[1] == 0
    sig2, _, _, _ = sketch(*_hashes(texts[::-1]), 64, 32)
    np.testing.assert_array_equal(sig2[::-1], sig[[0, 2, 3]])


def test_signatures_agree_in_about_the_jaccard_share_of_bins():
    a = make_doc(1, 400)
    b = near_copy(a, 40, seed=3)
    sa, sb = (set(shingles(normalize(t), 5)) for t in (a, b))
    true = len(sa & sb) / len(sa | sb)
    sig, values, offsets, _ = sketch(*_hashes([a, b]), 256, 64)
    assert abs(np.mean(sig[0] == sig[1]) - true) < 0.1
    assert not np.array_equal(sig[0], sketch(*_hashes([make_doc(2, 400)]), 256, 64)[0][0])


@pytest.mark.parametrize("changes", [1, 10, 60])
def test_sample_jaccard_is_exact_for_small_documents_and_close_for_large(changes):
    a = make_doc(4, 300)
    b = near_copy(a, changes, seed=1)
    sa, sb = (set(shingles(normalize(t), 5)) for t in (a, b))
    true = len(sa & sb) / len(sa | sb)
    for k, tolerance in ((1024, 1e-9), (128, 0.12)):
        _, values, offsets, _ = sketch(*_hashes([a, b]), 64, k)
        est = sample_jaccard(values[offsets[0] : offsets[1]], offsets[:2] - offsets[0],
                             values[offsets[1] : offsets[2]], offsets[1:] - offsets[1], k)
        assert abs(est[0] - true) <= tolerance, (k, est[0], true)


def test_sketches_depend_on_the_seed():
    texts = [make_doc(i) for i in range(4)]
    h1, n1 = shingle_hashes([normalize_bytes(t) for t in texts], 5, "word", 1)
    h2, _ = shingle_hashes([normalize_bytes(t) for t in texts], 5, "word", 2)
    np.testing.assert_array_equal(h1, shingle_hashes([normalize_bytes(t) for t in texts], 5, "word", 1)[0])
    assert not np.array_equal(h1, h2)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm,fn_weight", [(64, 0.5), (128, 0.5), (128, 0.9)])
def test_optimal_param_matches_datasketch(threshold, num_perm, fn_weight):
    datasketch = pytest.importorskip("datasketch")
    want = datasketch.lsh._optimal_param(threshold, num_perm, 1 - fn_weight, fn_weight)
    assert optimal_param(threshold, num_perm, 1 - fn_weight, fn_weight) == want


def test_band_keys_separate_scopes_and_bands():
    sig = np.tile(np.arange(8, dtype=np.uint32), (2, 1))
    same = band_keys(sig, 2, 4)
    assert (same[0] == same[1]).all() and same[0, 0] != same[0, 1]
    scoped = band_keys(sig, 2, 4, np.array([1, 2]))
    assert (scoped[0] != scoped[1]).all()
