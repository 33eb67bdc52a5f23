"""Quality classifier, buckets, retention and the tokenizer, on tiny synthetic data."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pytest

from curation.buckets import Bucketize, assign_buckets, quantile_thresholds, systematic_keep
from curation.classifier import QualityClassifier, Scorer
from curation.config import ClassifierConfig, CurationConfig, TokenizerConfig
from curation.tokenizer import TokenCounter, save_tokenizer, train_tokenizer
from dataplane.schema import doc_id_for

GOOD = ["the", "theorem", "proof", "follows", "because", "every", "function", "is", "continuous", "and", "bounded"]
BAD = ["click", "buy", "now", "cheap", "deal", "free", "win", "!!!", "best", "price", "offer"]


def _docs(words, n, seed):
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(30, 60))) + "." for _ in range(n)]


@pytest.mark.parametrize("model", ["linear", "lgbm", "ensemble"])
def test_classifier_separates_and_round_trips_without_pickle(tmp_path, model):
    texts = _docs(GOOD, 60, 1) + _docs(BAD, 60, 2)
    labels = [1] * 60 + [0] * 60
    clf = QualityClassifier(ClassifierConfig(model=model, lgbm_trees=30, hash_bits=12), seed=3).fit(texts, labels)
    assert min(clf.meta["auc"].values()) > 0.9
    clf.save(tmp_path / "clf")
    names = {p.name for p in (tmp_path / "clf").iterdir()}
    assert names <= {"meta.json", "linear_coef.npy", "lgbm.txt"} and "meta.json" in names
    probe = _docs(GOOD, 5, 9) + _docs(BAD, 5, 10)
    scores = clf.predict(probe)
    assert np.all((scores >= 0) & (scores <= 1)) and scores[:5].mean() > scores[5:].mean()
    loaded = QualityClassifier.load(tmp_path / "clf")
    np.testing.assert_allclose(loaded.predict(probe), scores, rtol=1e-6)
    table = Scorer(tmp_path / "clf")(pa.table({"text": probe}))
    np.testing.assert_allclose(table.column("quality_score").to_numpy(), scores, rtol=1e-6)


def test_constant_fallback_scores_one_half(tmp_path):
    QualityClassifier.constant(ClassifierConfig(), "no reference").save(tmp_path)
    assert json.loads((tmp_path / "meta.json").read_text())["model"] == "constant"
    assert QualityClassifier.load(tmp_path).predict(["a", "b"]).tolist() == [0.5, 0.5]


def test_quantile_buckets_are_equal_sized_and_zero_is_best():
    scores = np.linspace(0, 1, 100)
    thresholds = quantile_thresholds(scores, 4)
    assert thresholds == sorted(thresholds, reverse=True)
    buckets = assign_buckets(scores, thresholds)
    assert np.bincount(buckets).tolist() == [25, 25, 25, 25]
    assert buckets[-1] == 0 and buckets[0] == 3


def test_retention_keeps_the_fraction_deterministically_across_lengths():
    n_bytes = list(range(1000))
    ids = [doc_id_for(str(i)) for i in n_bytes]
    keep = systematic_keep(n_bytes, ids, 0.3, 0.42)
    assert keep.sum() == 300
    assert np.array_equal(keep, systematic_keep(n_bytes, ids, 0.3, 0.42))
    assert 0.25 < keep[:500].mean() < 0.35  # spread over the length range, not only the short ones


def test_bucketize_splits_kept_and_retention_filtered():
    n = 200
    table = pa.table({"doc_id": [doc_id_for(str(i)) for i in range(n)], "source": ["a", "b"] * (n // 2),
                      "n_bytes": list(range(n)), "quality_score": np.linspace(0, 1, n)})
    cfg = CurationConfig(num_buckets=2, keep_fractions=(1.0, 0.5))
    out = Bucketize(cfg, [0.5], seed=7)(table)
    assert out["kept"].num_rows + out["filtered"].num_rows == n
    assert set(out["filtered"].column("reason").to_pylist()) == {"retention"}
    assert set(out["filtered"].column("bucket").to_pylist()) == {1}
    assert out["filtered"].num_rows == 50
    again = Bucketize(cfg, [0.5], seed=7)(table)
    assert again["kept"].column("doc_id").to_pylist() == out["kept"].column("doc_id").to_pylist()


def test_tokenizer_trains_saves_and_counts(tmp_path):
    texts = _docs(GOOD, 50, 1) + ["def f(x):\n    return x + 1\n"] * 20
    tok = train_tokenizer(texts, TokenizerConfig(vocab_size=400))
    path = save_tokenizer(tok, tmp_path / "tokenizer.json")
    counts = TokenCounter(path)(pa.table({"text": ["the proof follows", "\u00e9\u00e9 \U0001f600"]}))
    n = counts.column("n_tokens").to_pylist()
    assert 1 <= n[0] <= 3 and n[1] >= 3  # common words merge; unseen characters fall back to bytes
