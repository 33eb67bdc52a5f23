"""Training, data stream and scoring of one proxy on tiny in-memory data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from proxies.config import ModelConfig, ProxyConfig, TrainConfig
from proxies.data import MixtureStream
from proxies.evaluate import EvalItem, EvalSet, Scored, evaluate

MODEL = ModelConfig(d_model=16, n_layers=2, n_heads=2, num_experts=4, top_k=2, expert_hidden=16,
                    window=8, global_every=2, seq_len=16)


@pytest.fixture
def token_files(tmp_path):
    """Two components: 'low' uses ids 0-15 in a repeating pattern, 'high' random ids 16-31."""
    rng = np.random.default_rng(0)
    low, high = tmp_path / "low.npy", tmp_path / "high.npy"
    np.save(low, np.tile(np.arange(16, dtype=np.uint16), 200))
    np.save(high, rng.integers(16, 32, 3000).astype(np.uint16))
    return {"low": str(low), "high": str(high)}


def _eval_sets():
    text = EvalSet("pattern", "toy", (EvalItem(Scored(tuple(range(16)), 1, 30)),) * 2)
    choice = EvalItem(Scored((1, 2, 3), 2, 1), (Scored((1, 2, 3), 2, 1), Scored((1, 2, 9), 2, 1)), 0)
    return [text, EvalSet("pattern", "mc", (choice,))]


def _train(files, seed=0, optimizer="adamw", steps=6, **kw):
    from proxies.train import train_proxy

    cfg = ProxyConfig(model=MODEL, train=TrainConfig(steps=steps, batch_size=4, optimizer=optimizer, device="cpu"))
    comps = {"low": (0.75, files["low"]), "high": (0.25, files["high"])}
    return train_proxy(cfg, comps, _eval_sets(), seed=seed, vocab_size=32, **kw)


def test_same_seed_gives_the_same_weight_hash(token_files):
    a, b, c = _train(token_files), _train(token_files), _train(token_files, seed=1)
    assert a["weights_sha256"] == b["weights_sha256"] != c["weights_sha256"]
    assert a["metrics"] == b["metrics"]
    assert a["tokens_seen"] == 6 * 4 * 16 and a["tokens_by_component"] == {"high": 96, "low": 288}


def test_training_with_muon_learns_the_pattern_and_saves_config_beside_weights(token_files, tmp_path):
    result = _train(token_files, optimizer="muon", steps=40, out_dir=tmp_path / "ckpt")
    assert result["metrics"]["pattern_loss"] < np.log(32) - 0.5
    assert result["metrics"]["pattern_acc"] == 1.0
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert meta["proxy"]["train"]["optimizer"] == "muon" and meta["weights_sha256"] == result["weights_sha256"]
    state = torch.load(tmp_path / "ckpt" / "model.pt")
    assert "blocks.0.moe.w1_EDF" in state


def test_mixture_stream_is_deterministic_and_follows_the_weights(token_files):
    comps = {"low": (0.75, token_files["low"]), "high": (0.25, token_files["high"]), "off": (0.0, "missing.npy")}
    s1, s2 = (MixtureStream(comps, seq_len=8, batch_size=4, seed=3) for _ in range(2))
    for _ in range(5):
        assert torch.equal(s1.next_batch()[0], s2.next_batch()[0])
    assert s1.tokens_by_component == {"high": 5 * 8, "low": 15 * 8}
    x, y = s1.next_batch()
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_mixture_stream_names_a_missing_token_file():
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        MixtureStream({"a": (1.0, "nope.npy")}, seq_len=8, batch_size=2, seed=0)


class _StubModel(torch.nn.Module):
    """Predicts token t+1 after t with high confidence."""

    cfg = MODEL

    def forward(self, idx_BT):
        logits = torch.full((*idx_BT.shape, 32), -10.0)
        logits.scatter_(2, ((idx_BT + 1) % 32).unsqueeze(-1), 10.0)
        return logits, None


def test_evaluate_picks_the_choice_with_lowest_loss_per_byte():
    good = Scored((1, 2, 3, 4), 2, 2)
    bad = Scored((1, 2, 7), 2, 1)
    sets = [EvalSet("toy", "a", (EvalItem(good, (bad, good), 1), EvalItem(bad, (bad, good), 0)))]
    metrics = evaluate(_StubModel(), sets, device="cpu")
    assert metrics["toy_acc"] == 0.5
    assert set(metrics) == {"toy_loss", "toy_bpb", "toy_acc"}
    text_only = evaluate(_StubModel(), [EvalSet("t", "b", (EvalItem(good),))], device="cpu")
    assert text_only["t_loss"] < 1e-3 and "t_acc" not in text_only
