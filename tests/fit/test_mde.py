"""The MDE estimate: stored expert log-probabilities -> bits per byte of any mixture, per set and per group."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from automixer.mixing.mde import (
    ExpertStore,
    MDEEstimator,
    SetIndex,
    finished_experts,
    load_estimator,
    mde_name_for,
    mixture_nats,
    read_index,
    set_stem,
    write_expert,
    write_index,
    write_manifest,
)
from dataplane.errors import InputError
from proxies.config import ModelConfig
from proxies.evaluate import EvalItem, EvalSet, Scored, evaluate, scored_window, token_logprobs
from proxies.model import ProxyModel


def _index_of(sets: list[EvalSet], seq_len: int) -> list[SetIndex]:
    out = []
    for i, es in enumerate(sets):
        windows = [scored_window(it.text, seq_len) for it in es.items]
        out.append(SetIndex(es.name, es.group, set_stem(i, es.name), tuple(t for t, _ in windows),
                            tuple(b for _, b in windows)))
    return out


def _random_experts(root, rng, components=("a", "b", "c")):
    """Three experts over two code sets and one math set, with random log-probabilities."""
    sets = [SetIndex("x.jsonl", "code", "00_x", (3, 5), (10.0, 14.5)),
            SetIndex("y.jsonl", "code", "01_y", (4,), (9.0,)),
            SetIndex("z.jsonl", "math", "02_z", (2, 2, 3), (4.0, 5.0, 7.0))]
    write_index(root, sets)
    for c in components:
        write_expert(root, c, [np.log(rng.uniform(1e-4, 1, s.num_tokens)) for s in sets], {"tokens_seen": 100})
    return sets


def test_estimate_matches_a_direct_per_token_computation(tmp_path):
    rng = np.random.default_rng(0)
    sets = _random_experts(tmp_path, rng)
    est = MDEEstimator(ExpertStore(tmp_path, ["a", "b", "c"]))
    X = rng.dirichlet(np.ones(3), size=5)
    X[0] = [0.0, 0.0, 1.0]
    got = est.estimate(X)
    stored = {c: [np.load(tmp_path / c / f"{s.stem}.npy").astype(np.float64) for s in sets] for c in "abc"}
    for m, lam in enumerate(X):
        nats = []
        for k in range(len(sets)):
            per_token = [-math.log(sum(w * math.exp(stored[c][k][t]) for w, c in zip(lam, "abc")))
                         for t in range(sets[k].num_tokens)]
            nats.append(sum(per_token))
        code_bytes = sum(sets[0].item_bytes) + sum(sets[1].item_bytes)
        assert got["code_bpb"][m] == pytest.approx((nats[0] + nats[1]) / math.log(2) / code_bytes, rel=1e-5)
        assert got["code_loss"][m] == pytest.approx((nats[0] + nats[1]) / 12, rel=1e-5)
        assert got["math_bpb"][m] == pytest.approx(nats[2] / math.log(2) / 16.0, rel=1e-5)
        assert got["set:y.jsonl_bpb"][m] == pytest.approx(nats[1] / math.log(2) / 9.0, rel=1e-5)


def test_blocked_sum_equals_the_whole_sum_over_many_tokens_and_mixtures():
    rng = np.random.default_rng(1)
    probs = rng.uniform(1e-3, 1, (5000, 4)).astype(np.float32)
    lam = rng.dirichlet(np.ones(4), size=3000).T
    whole = -np.log(probs.astype(np.float64) @ lam).sum(0)
    np.testing.assert_allclose(mixture_nats(probs, lam), whole, rtol=1e-5)


def test_one_hot_mixture_gives_each_experts_own_measured_bpb(tmp_path):
    cfg = ModelConfig(d_model=16, n_layers=2, n_heads=2, num_experts=2, top_k=1, expert_hidden=16, window=8,
                      global_every=2, seq_len=16)
    long_item = EvalItem(Scored(tuple(range(1, 40)), 1, 90))  # longer than the window: its end is scored
    sets = [EvalSet("code", "he", (EvalItem(Scored((0, 5, 6, 7, 8), 1, 11)), long_item)),
            EvalSet("code", "mbpp", (EvalItem(Scored((3, 4, 9, 10, 11, 12), 3, 7)),)),
            EvalSet("math", "gsm", (EvalItem(Scored((0, 20, 21, 22), 1, 6)),) * 3)]
    write_index(tmp_path, _index_of(sets, cfg.seq_len))
    measured = {}
    for seed, name in ((0, "web"), (1, "code")):
        torch.manual_seed(seed)
        model = ProxyModel(cfg, vocab_size=48)
        with torch.no_grad():
            model.head.weight.mul_(1 + 60 * seed)  # the second expert is far more confident (right or wrong)
        measured[name] = evaluate(model, sets, batch_size=2)
        write_expert(tmp_path, name, [token_logprobs(model, es, batch_size=2) for es in sets], {"seed": seed})
    est = MDEEstimator(ExpertStore(tmp_path, ["web", "code"]))
    got = est.estimate(np.eye(2))
    for e, name in enumerate(["web", "code"]):
        for metric in ("code_bpb", "math_bpb", "code_loss", "math_loss"):
            assert got[metric][e] == pytest.approx(measured[name][metric], rel=2e-3)
    assert measured["web"]["code_bpb"] != pytest.approx(measured["code"]["code_bpb"], rel=1e-2)
    # the average of two experts' probabilities beats the worse of them
    half = est.estimate(np.array([[0.5, 0.5]]))["code_bpb"][0]
    assert half < max(got["code_bpb"])


def test_layout_records_sizes_and_unfinished_experts_are_not_read(tmp_path):
    rng = np.random.default_rng(2)
    sets = _random_experts(tmp_path, rng, components=("a", "b"))
    (tmp_path / "c").mkdir()
    np.save(tmp_path / "c" / "00_x.npy", np.zeros(8, np.float16))  # arrays, but no expert.json yet
    assert finished_experts(tmp_path) == ["a", "b"]
    manifest = write_manifest(tmp_path)
    assert [e["component"] for e in manifest["experts"]] == ["a", "b"]
    assert manifest["experts"][0]["bytes"] > 2 * sum(s.num_tokens for s in sets)  # float16 + npy headers
    assert json.loads((tmp_path / "manifest.json").read_text())["bytes"] == manifest["bytes"]
    assert read_index(tmp_path) == sets
    with pytest.raises(InputError, match=r"c.*no finished expert for component 'c'"):
        ExpertStore(tmp_path, ["a", "c"])


def test_a_truncated_array_is_named(tmp_path):
    _random_experts(tmp_path, np.random.default_rng(3), components=("a",))
    np.save(tmp_path / "a" / "01_y.npy", np.zeros(2, np.float16))
    with pytest.raises(InputError, match=r"a/01_y.npy: 2 values, index.json says 4 scored tokens"):
        ExpertStore(tmp_path, ["a"])


def test_estimator_cache_reloads_when_an_expert_changes(tmp_path):
    rng = np.random.default_rng(4)
    _random_experts(tmp_path, rng, components=("a", "b"))
    first = load_estimator(tmp_path, ["a", "b"])
    assert load_estimator(tmp_path, ["a", "b"]) is first
    write_expert(tmp_path, "b", [np.zeros(s.num_tokens) for s in read_index(tmp_path)], {"again": True})
    second = load_estimator(tmp_path, ["a", "b"])
    assert second is not first
    assert second.estimate_one(np.array([[0.0, 1.0]]), "math_bpb")[0] == pytest.approx(0.0, abs=1e-6)


def test_metric_to_estimate_names():
    names = ["code_bpb", "code_loss", "math_bpb", "math_loss"]
    assert mde_name_for("metric/code_bpb", names) == "code_bpb"
    assert mde_name_for("metric/math_loss", names) == "math_loss"
    assert mde_name_for("metric/math_acc", names) == "math_bpb"
    assert mde_name_for("metric/stem_bpb", names) is None
