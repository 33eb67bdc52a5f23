"""Data experts of the sweep (sweep.experts): one proxy per component, their stored token log-probabilities."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tiny_workdir import tiny_config

from automixer.flows import sweep as flow
from automixer.flows.fit import run_fit
from automixer.flows.report import run_report
from automixer.mixing.mde import EXPERTS, ExpertStore, MDEEstimator, finished_experts
from automixer.mixing.runs_table import read_runs_file, read_runs_workdir

pytestmark = pytest.mark.usefixtures("ray_local")
REPO = Path(__file__).resolve().parents[2]


def test_sweep_trains_one_expert_per_component_whose_one_hot_estimate_is_its_measured_bpb(tiny, capsys):
    config, eval_files = tiny
    config = tiny_config(config.workdir_path, eval_files, num_proxies=4, seed_repeats=0, experts=True)
    flow.run_sweep(config)
    out = capsys.readouterr().out
    runs = pq.read_table(config.workdir_path / "sweep" / "runs.parquet").to_pylist()
    experts = {r["run_id"]: r for r in runs if r["tag"] == "expert"}
    components = [c.removeprefix("mix/") for c in runs[0] if c.startswith("mix/")]
    assert sorted(experts) == sorted(f"expert-{c}" for c in components)
    assert all(r["status"] == "ok" and r[f"mix/{r['run_id'].removeprefix('expert-')}"] == 1.0 for r in experts.values())
    assert read_runs_file(config.workdir_path / "sweep" / "runs.parquet").num_runs == 4  # not sampled mixtures
    assert read_runs_workdir(config.workdir_path).num_runs == 4

    root = config.workdir_path / EXPERTS
    assert finished_experts(root) == sorted(components)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["bytes"] > 0 and f"{manifest['bytes'] / 1e6:.2f} MB of token log-probabilities" in out
    record = json.loads((root / "synth.qa" / "expert.json").read_text())
    assert record["epochs"] == pytest.approx(record["tokens_seen"] / record["component_tokens"], rel=1e-3)
    assert record["epochs"] > 1 and "synth.qa: its" in out and "times" in out  # 10 short docs < the token budget

    est = MDEEstimator(ExpertStore(root, components)).estimate(np.eye(len(components)))
    for i, c in enumerate(components):
        assert est["code_bpb"][i] == pytest.approx(experts[f"expert-{c}"]["metric/code_bpb"], rel=3e-3)
        assert est["math_loss"][i] == pytest.approx(experts[f"expert-{c}"]["metric/math_loss"], rel=3e-3)

    flow.run_sweep(config)  # finished experts resume like proxies: nothing is trained again
    assert "] training" not in capsys.readouterr().out


def test_fit_on_a_swept_workdir_with_experts_tries_mde_candidates(tiny, capsys):
    config, eval_files = tiny
    config = tiny_config(config.workdir_path, eval_files, num_proxies=9, seed_repeats=0, experts=True)
    flow.run_sweep(config)
    out = config.workdir_path / "surrogates"
    run_fit(config, runs_file=None, targets=["metric/code_bpb"], out_dir=str(out))
    target = json.loads((out / "surrogates.json").read_text())["targets"]["metric/code_bpb"]
    assert "mde" in target["cv"] and any(name.endswith("+mde") for name in target["cv"])

    run_report(config)  # the report shows the estimate against the measured scores of the 9 sampled runs
    html = (config.workdir_path / "report" / "index.html").read_text()
    assert "Mixtures of data experts" in html and (config.workdir_path / "report" / "mde_vs_measured.png").exists()
    section = html[html.index("Mixtures of data experts"):]
    assert "code_bpb" in section and "synth.qa" in section and "Not run yet: the proxy sweep" not in section

    bench = _load_benchmark("bench_mde_heldout")  # the held-out table's script runs on this workdir
    assert bench.main([str(config.workdir_path), "--sizes", "6,12", "--draws", "1", "--candidates", "linear",
                       "--folds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "experts: 7 runs" in printed and "12: only 6 runs outside the held-out third" in printed
    for feature in ("weights", "MDE alone", "weights + MDE"):
        assert f"    6 {feature:<14}" in printed


def _load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
