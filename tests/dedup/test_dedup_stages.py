"""The chain in process on tables: exact and near dups, keepers, scopes, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from dedup_testdata import doc_table, make_doc, near_copy

from dedup.config import DedupConfig
from dedup.filter import FilterStage
from dedup.local import dedup_table


def run(texts, config=None, **kw) -> dict:
    out = dedup_table(doc_table(texts, **kw), config or DedupConfig())
    return {c: out.column(c).to_pylist() for c in ("doc_id", "dup_cluster", "dup_kept", "reason")}


def test_exact_duplicates_differing_in_case_and_punctuation_are_removed():
    base = make_doc(1)
    out = run([base, base.upper() + " !!", make_doc(2)], scores=[0.2, 0.9, 0.5])
    assert out["dup_kept"] == [False, True, True]
    assert out["reason"] == ["exact", None, None]
    assert out["dup_cluster"][0] == out["doc_id"][1]


def test_near_duplicates_are_clustered_and_unrelated_documents_are_not():
    docs = [make_doc(i) for i in range(10)]
    texts = docs + [near_copy(docs[3], 1), near_copy(docs[7], 2, seed=5)]
    out = run(texts)
    removed = {i for i, kept in enumerate(out["dup_kept"]) if not kept}
    assert len(removed) == 2 and all(out["reason"][i] == "near" for i in removed)
    pairs = {frozenset(i for i, c in enumerate(out["dup_cluster"]) if c == out["dup_cluster"][j]) for j in removed}
    assert pairs == {frozenset({3, 10}), frozenset({7, 11})}


def test_keeper_is_the_highest_quality_document_not_the_first():
    base = make_doc(4)
    texts = [base, near_copy(base, 1, 1), near_copy(base, 1, 2)]
    out = run(texts, scores=[0.1, 0.8, 0.3])
    assert out["dup_kept"] == [False, True, False]
    assert set(out["dup_cluster"]) == {out["doc_id"][1]}


def test_keeper_ties_go_to_the_smallest_doc_id_and_missing_scores_rank_last():
    base = make_doc(5)
    texts = [near_copy(base, 1, s) for s in range(4)]
    out = run(texts, scores=[0.5, 0.5, 0.5, None])
    kept = [i for i, k in enumerate(out["dup_kept"]) if k]
    assert kept == [int(np.argmin(out["doc_id"][:3]))]


@pytest.mark.parametrize("scope,expected_removed", [("global", 2), ("source", 1), ("bucket", 0)])
def test_scope_limits_where_duplicates_are_looked_for(scope, expected_removed):
    base = make_doc(6)
    texts = [base, base, near_copy(base, 1), make_doc(7)]
    out = run(texts, DedupConfig(scope=scope), sources=["a", "a", "b", "b"], buckets=[0, 1, 2, 0])
    assert out["dup_kept"].count(False) == expected_removed


def test_source_scope_keeps_copies_in_other_sources():
    base = make_doc(8)
    out = run([base, base, base], DedupConfig(scope="source"), sources=["a", "b", "a"])
    assert out["dup_kept"] == [True, True, False]


def test_empty_and_one_word_documents():
    texts = ["", "", "word", "Word.", "other", make_doc(9), ""]
    out = run(texts)
    assert out["dup_kept"] == [True, False, True, False, True, True, False]
    assert out["reason"][1] == out["reason"][3] == "exact"


def test_results_are_deterministic_and_independent_of_input_order():
    docs = [make_doc(i) for i in range(8)]
    texts = docs + [near_copy(d, 1, i) for i, d in enumerate(docs[:4])]
    first = run(texts)
    assert run(texts) == first
    perm = np.random.default_rng(0).permutation(len(texts))
    shuffled = run([texts[i] for i in perm])
    for new, old in enumerate(perm):
        assert shuffled["dup_kept"][new] == first["dup_kept"][old]
        assert shuffled["dup_cluster"][new] == first["dup_cluster"][old]


def test_disabled_dedup_keeps_everything():
    base = make_doc(10)
    out = run([base, base], DedupConfig(enabled=False))
    assert out["dup_kept"] == [True, True] and out["dup_cluster"] == out["doc_id"]


def test_filter_stage_splits_kept_and_duplicates_without_losing_rows():
    base = make_doc(11)
    cfg = DedupConfig()
    marked = dedup_table(doc_table([base, base, make_doc(12)]), cfg)
    parts = FilterStage(cfg, marked.select(["gid", "dup_cluster", "dup_kept", "reason"]))(marked)
    assert parts["kept"].num_rows == 2 and parts["duplicates"].num_rows == 1
    assert parts["duplicates"].column("dup_cluster")[0].as_py() == marked.column("doc_id")[0].as_py()


def test_char_shingles_find_near_duplicate_code():
    code = "\n".join(f"def scale_{i}(x):\n    return x * {i} + {i * i}" for i in range(20))
    out = run([code, code.replace("scale_3", "scale_three"), make_doc(13)], DedupConfig(shingle="char", ngram=5))
    assert out["dup_kept"].count(False) == 1
