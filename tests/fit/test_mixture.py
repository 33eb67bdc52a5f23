"""Mixture: validation, YAML round trip, Megatron blend export."""

from __future__ import annotations

import pytest

from automixer.mixing.mixture import Mixture
from dataplane.errors import InputError


def _mixture():
    return Mixture(
        weights={"code": 0.5, "math": 0.3, "synth.qa": 0.2}, token_budget=1_000_000,
        available_tokens={"code": 400_000, "math": 600_000},
        token_files={"code": "/data/components/code.npy"},
        shards={"math": [{"path": "/data/dedup/kept/a.parquet", "filter": "source = 'math'"}]},
        predicted={"metric/loss": {"mean": 2.5, "std": 0.1}}, objective={"value": -0.5},
        baselines={"natural": {"weights": {"code": 0.4, "math": 0.4, "synth.qa": 0.2}, "objective": 0.0}},
        solver={"name": "tpe"}, trust_region={"distance": 0.12, "limit": 0.5},
        provenance={"config_hash": "abc", "version": "0.1.0"},
    )


def test_yaml_round_trip_keeps_everything(tmp_path):
    mix = _mixture()
    again = Mixture.load(mix.save(tmp_path / "mixture.yaml"))
    assert again == mix
    data = mix.to_dict()["mixture"]
    assert data["code"] == {"weight": 0.5, "tokens": 500_000, "available_tokens": 400_000, "epochs": 1.25,
                            "token_file": "/data/components/code.npy"}
    assert data["synth.qa"]["tokens"] == 200_000 and "epochs" not in data["synth.qa"]


@pytest.mark.parametrize("weights, match", [
    ({"a": 0.5, "b": 0.4}, "must sum to 1, got 0.9"),
    ({"a": 1.2, "b": -0.2}, "finite numbers >= 0"),
    ({}, "at least one component"),
])
def test_invalid_weights_are_rejected(weights, match):
    with pytest.raises(ValueError, match=match):
        Mixture(weights=weights)


def test_loading_a_bad_file_names_it(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("mixture: {a: {weight: 0.5}}\n")
    with pytest.raises(InputError, match="bad.yaml: not a mixture YAML: mixture weights must sum to 1"):
        Mixture.load(path)


def test_megatron_blend_lists_weight_path_pairs():
    lines = _mixture().megatron_blend().splitlines()
    assert lines[0].startswith("#") and "automixer export" in lines[1]
    assert lines[2:] == ["0.500000 /data/components/code", "0.300000 /data/dedup/kept/a.parquet", "0.200000 synth.qa"]
