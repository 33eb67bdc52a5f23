"""The proxy swarm end to end on local Ray over a tiny workdir (a few proxies, a few steps each)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from tiny_workdir import tiny_config

from automixer.catalog import Catalog
from automixer.flows import sweep as flow
from automixer.mixing.runs_table import read_runs_file
from automixer.sweep import runner
from dataplane.errors import InputError, StageError

pytestmark = pytest.mark.usefixtures("ray_local")


def _runs(config):
    return pq.read_table(config.workdir_path / "sweep" / "runs.parquet")


def test_tiny_sweep_writes_runs_table_components_and_catalog(tiny, capsys):
    config, _ = tiny
    summary = flow.run_sweep(config)
    assert "4/4 proxies ok" in summary
    runs = _runs(config)
    for col in ("run_id", "status", "error", "seed", "config_hash", "tokens_seen", "tokens_per_s", "wall_s",
                "weights_sha256", "metric/code_loss", "metric/code_bpb", "metric/math_loss", "metric/math_acc"):
        assert col in runs.column_names, col
    mix = [c for c in runs.column_names if c.startswith("mix/")]
    assert sorted(mix) == ["mix/code.q0", "mix/code.q1", "mix/math.q0", "mix/math.q1",
                           "mix/prose.q0", "mix/prose.q1", "mix/synth.qa"]
    for row in runs.to_pylist():
        assert row["status"] == "ok" and abs(sum(row[c] for c in mix) - 1) < 1e-9
        assert len(row["weights_sha256"]) == 64 and row["tokens_seen"] == 4 * 4 * 32
    components = json.loads((config.workdir_path / "components" / "components.json").read_text())
    synth = next(c for c in components if c["component"] == "synth.qa")
    assert synth["synthetic"] and synth["shards"][0]["filter"] == "synthetic AND synth_strategy = 'qa'"
    assert abs(sum(c["natural_weight"] for c in components) - 1) < 1e-9
    with Catalog(config.workdir_path, read_only=True) as catalog:
        assert catalog.query("SELECT count(*) AS n FROM proxy_runs").column("n")[0].as_py() == 4
        assert catalog.query("SELECT count(*) AS n FROM components").column("n")[0].as_py() == 7
        directions = {r["metric"]: r["higher_is_better"]
                      for r in catalog.query("SELECT * FROM metric_directions").to_pylist()}
    assert directions["metric/math_acc"] is True and directions["metric/code_bpb"] is False
    assert read_runs_file(config.workdir_path / "sweep" / "runs.parquet").directions == directions
    out = capsys.readouterr().out
    assert "dropped 1 evaluation items" in out and "mixture sd" in out


def test_killed_sweep_resumes_without_retraining_finished_proxies(tiny, capsys):
    config, _ = tiny

    def dies_after_two(proxy_config, components, eval_sets, *, seed, vocab_size, out_dir=None):
        import os

        from proxies.train import train_proxy

        if seed == 1:  # the seed repeat is trained last: its worker dies, as if the sweep were killed there
            os._exit(1)
        return train_proxy(proxy_config, components, eval_sets, seed=seed, vocab_size=vocab_size)

    flow.sweep(config, train_fn=dies_after_two)
    first = {r["run_id"]: r for r in _runs(config).to_pylist()}
    assert first["p000-s1"]["status"] == "failed" and "p000" in first
    finished = {k for k, r in first.items() if r["status"] == "ok"}
    assert finished == {"p000", "p001", "p002"}
    capsys.readouterr()

    flow.run_sweep(config)
    assert "training 1 proxies (3 already finished)" in capsys.readouterr().out
    second = {r["run_id"]: r for r in _runs(config).to_pylist()}
    assert all(r["status"] == "ok" for r in second.values())
    for run_id in finished:  # untouched: same row, same wall time, same hash
        assert second[run_id]["wall_s"] == first[run_id]["wall_s"]
        assert second[run_id]["weights_sha256"] == first[run_id]["weights_sha256"]


def test_failing_proxy_is_recorded_with_its_error_and_swarm_completes(tiny):
    config, eval_files = tiny
    config = tiny_config(config.workdir_path, eval_files, max_retries=1)

    def fails_for_seed_one(proxy_config, components, eval_sets, *, seed, vocab_size, out_dir=None):
        from proxies.train import train_proxy

        if seed == 1:
            raise RuntimeError("injected failure")
        return train_proxy(proxy_config, components, eval_sets, seed=seed, vocab_size=vocab_size)

    summary = flow.sweep(config, train_fn=fails_for_seed_one)
    rows = {r["run_id"]: r for r in _runs(config).to_pylist()}
    failed = rows["p000-s1"]
    assert failed["status"] == "failed" and "injected failure" in failed["error"]
    assert failed["attempts"] == 2 and failed["weights_sha256"] is None
    assert [r["status"] for r in rows.values()].count("ok") == 3 and "3/4 proxies ok" in summary


def test_same_seed_same_hash_and_repeat_seed_differs(tiny):
    config, _ = tiny
    mixture = {"code.q0": 0.5, "math.q0": 0.5}
    table = flow.train_mixtures(config, [mixture, mixture], tag="check")
    again = flow.train_mixtures(config, [mixture], tag="check", seed=1)
    hashes = table.column("weights_sha256").to_pylist()
    assert hashes[0] == hashes[1] != again.column("weights_sha256")[0].as_py()
    assert table.column("mix/code.q0").to_pylist() == [0.5, 0.5]


def test_asking_again_for_trained_mixtures_trains_nothing(tiny, monkeypatch):
    config, _ = tiny
    mixtures = [{"code.q0": 0.5, "math.q0": 0.5}, {"code.q0": 1.0}]
    first = flow.train_mixtures(config, mixtures, tag="validate")

    def no_training(*args, **kwargs):
        raise AssertionError("finished validation runs must not be trained again")

    monkeypatch.setattr(runner, "execute", no_training)
    again = flow.train_mixtures(config, mixtures, tag="validate")
    assert again.to_pylist() == first.to_pylist()


def test_next_round_appends_proposed_mixtures(tiny, monkeypatch):
    config, _ = tiny
    proposals = [{"mix/code.q0": 1.0}, {"math.q1": 2.0, "prose.q0": 2.0}]
    monkeypatch.setattr(flow.acquisition, "propose_next", lambda runs, k, cfg, **_: proposals[:k])
    flow.run_sweep(config, next_k=2)
    rows = {r["run_id"]: r for r in _runs(config).to_pylist()}
    assert rows["next1-00"]["mix/code.q0"] == 1.0 and rows["next1-01"]["mix/math.q1"] == 0.5
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows.values())


def test_changed_recipe_needs_force(tiny):
    config, eval_files = tiny
    flow.run_sweep(config)
    changed = tiny_config(config.workdir_path, eval_files, num_proxies=2, seed_repeats=1)
    with pytest.raises(StageError, match="--force"):
        flow.run_sweep(changed)
    assert "3/3 proxies ok" in flow.run_sweep(changed, force=True)


def test_eval_overlap_error_names_the_file(tiny):
    config, eval_files = tiny
    strict = tiny_config(config.workdir_path, eval_files, eval_overlap="error")
    with pytest.raises(InputError, match="code.jsonl:7"):
        flow.prepare(strict)
