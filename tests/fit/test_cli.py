"""End to end: automixer fit / predict / optimize through the CLI, with and without a config."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
import yaml

from automixer.catalog import Catalog
from automixer.cli import main
from automixer.config import config_from_dict
from automixer.flows import optimize as optimize_flow
from automixer.flows.fit import run_fit
from automixer.flows.optimize import run_optimize
from automixer.mixing.mixture import Mixture
from automixer.mixing.runs_table import OPTIMUM, synthetic_runs

FAST = {"n_trials": 40, "random_samples": 2000, "max_epochs": 0.0}


def test_fit_predict_optimize_with_a_runs_file_and_no_config(tmp_path, runs_csv, capsys):
    surr, preds, mixture = tmp_path / "surr", tmp_path / "preds.csv", tmp_path / "out" / "mixture.yaml"
    assert main(["fit", "--runs", str(runs_csv), "--out", str(surr)]) == 0
    out = capsys.readouterr().out
    assert "spearman" in out and "metric/loss" in out and "chosen" in out
    assert (surr / "surrogates.json").exists() and (surr / "fit_config.yaml").exists()
    assert (surr / "plots" / "cv_metric_loss.png").exists()

    mixes = synthetic_runs(5, seed=7).select(["mix/code", "mix/stem", "mix/math", "mix/synth.qa"])
    pcsv.write_csv(mixes, tmp_path / "mixes.csv")
    assert (
        main(["predict", "--surrogate", str(surr), "--mixtures", str(tmp_path / "mixes.csv"), "--out", str(preds)]) == 0
    )
    table = pcsv.read_csv(preds)
    assert {"mix/code", "pred/loss", "pred/code_loss"} <= set(table.column_names) and table.num_rows == 5

    with pytest.warns(UserWarning, match="max-epochs constraint skipped"):
        assert main(["optimize", "--surrogate", str(surr), "--out", str(mixture)]) == 0
    mix = Mixture.load(mixture)
    assert mix.solver["name"] in mix.solver["results"] and mix.trust_region["distance"] <= 0.5
    assert set(mix.baselines) == {"natural", "uniform"} and mix.provenance["runs"]["num_runs"] == 40
    assert mixture.with_suffix(".megatron_blend.txt").exists()
    assert (mixture.parent / "plots" / "mixture_vs_natural.png").exists()
    assert (mixture.parent / "plots" / "pareto.png").exists()


def test_fit_leaves_out_surrogates_with_more_parameters_than_sampled_mixtures(tmp_path, capsys):
    runs = tmp_path / "runs.csv"
    pcsv.write_csv(synthetic_runs(6, seed=3), runs)  # 6 mixtures of 4 components: the mixing law has 6 parameters
    run_fit(None, runs_file=str(runs), targets=["metric/code_loss"], out_dir=str(tmp_path / "surr"))
    assert "left out mixing_law (6 parameters from 6 distinct mixtures) for every target" in capsys.readouterr().out
    cv = json.loads((tmp_path / "surr" / "surrogates.json").read_text())["targets"]["metric/code_loss"]["cv"]
    assert "mixing_law" not in cv and {"gp", "loglinear", "sqrt_linear", "ensemble"} <= set(cv)

    only_law = config_from_dict(
        {"workdir": str(tmp_path / "work"), "fit": {"candidates": ["mixing_law"], "cv_folds": 3}}
    )
    with pytest.warns(UserWarning, match="every candidate has too few distinct mixtures"):
        run_fit(only_law, runs_file=str(runs), targets=["metric/code_loss"], out_dir=str(tmp_path / "law"))
    manifest = json.loads((tmp_path / "law" / "surrogates.json").read_text())
    assert manifest["targets"]["metric/code_loss"]["surrogate"] == "mixing_law"


def test_a_metric_no_surrogate_ranks_warns_with_the_best_candidate(tmp_path):
    table = synthetic_runs(12, seed=4)
    noise = np.random.default_rng(7).normal(size=table.num_rows)  # linear ranks it best, at rho .21
    pcsv.write_csv(table.append_column("metric/noise_loss", pa.array(noise)), tmp_path / "runs.csv")
    config = config_from_dict({"workdir": str(tmp_path / "work"), "fit": {"candidates": ["gp", "linear", "ensemble"]}})
    with pytest.warns(UserWarning, match="no surrogate ranks metric/noise_loss well") as rec:
        run_fit(
            config, runs_file=str(tmp_path / "runs.csv"), targets=["metric/noise_loss"], out_dir=str(tmp_path / "s")
        )
    kept = json.loads((tmp_path / "s" / "surrogates.json").read_text())["targets"]["metric/noise_loss"]
    cv = kept["cv"]
    top = max(cv, key=lambda name: cv[name]["spearman"])
    assert kept["surrogate"] == "ensemble" != top  # 12 runs: the others are within the noise, the ensemble hedges
    message = next(str(w.message) for w in rec if "no surrogate ranks" in str(w.message))
    assert f"best CV Spearman {cv[top]['spearman']:.2f} by {top})" in message  # the top one, not the hedged pick


def test_bad_runs_file_exits_2_naming_file_and_column(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    path.write_text("mix/a,mix/b,score\n0.5,0.5,1\n")
    assert main(["fit", "--runs", str(path), "--out", str(tmp_path / "s")]) == 2
    assert "runs.csv: no metric/<name> columns" in capsys.readouterr().err
    assert main(["fit", "--out", str(tmp_path / "s")]) == 2
    assert "fit needs a CONFIG" in capsys.readouterr().err


@pytest.fixture
def workdir_config(tmp_path):
    """A workdir with proxy_runs and components in its catalog (as the sweep leaves it)."""
    runs = synthetic_runs(30, seed=2).drop_columns(["metric/code_loss", "metric/math_loss"])
    runs = runs.append_column("error", pa.array([None] * 30, pa.string()))
    comps = [
        {
            "component": c,
            "docs": 10,
            "tokens": 5_000_000,
            "synthetic": c.startswith("synth"),
            "natural_weight": w,
            "token_file": f"/data/{c}.npy",
            "shards": [{"path": f"/data/{c}.parquet", "filter": "1=1"}],
        }
        for c, w in zip(["code", "stem", "math", "synth.qa"], [0.7, 0.1, 0.1, 0.1])
    ]  # far from the optimum
    with Catalog(tmp_path) as catalog:
        catalog.write_table("proxy_runs", runs)
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "components.json").write_text(json.dumps(comps))
    return config_from_dict(
        {
            "workdir": str(tmp_path),
            "fit": {"cv_folds": 3, "candidates": ["gp", "linear", "mixing_law"]},
            "optimize": dict(FAST, solver="random", token_budget=10_000_000, max_epochs=4.0, scale_up={"seeds": 0}),
        }
    )


def _fake_sweep(monkeypatch, calls):
    """optimize's train_mixtures replaced by one that 'measures' the known loss function."""

    def train_mixtures(config, mixtures, *, tag, seed=None, recipe=None):
        calls.append((tag, mixtures))
        X = np.array([[m[c] for c in ["code", "stem", "math", "synth.qa"]] for m in mixtures])
        return pa.table(
            {
                "run_id": [f"{tag}-{i}" for i in range(len(X))],
                "status": ["ok"] * len(X),
                "metric/loss": 2.5 + 4.0 * ((X - OPTIMUM) ** 2).sum(1),
            }
        )

    monkeypatch.setattr(optimize_flow, "train_mixtures", train_mixtures)
    monkeypatch.setattr(optimize_flow, "prepare", lambda config: None)


def test_fit_and_validated_optimize_from_the_workdir_catalog(workdir_config, monkeypatch, capsys):
    work = workdir_config.workdir_path
    run_fit(workdir_config, runs_file=None, targets=None, out_dir=str(work / "surrogates"))
    with Catalog(work, read_only=True) as catalog:
        scores = catalog.query("SELECT * FROM surrogate_scores").to_pylist()
        assert {r["surrogate"] for r in scores} == {"gp", "linear", "mixing_law"}
    assert (work / "plots" / "cv_metric_loss.png").exists() and (work / "surrogates" / "resolved_config.yaml").exists()

    calls = []
    _fake_sweep(monkeypatch, calls)
    summary = run_optimize(
        workdir_config, surrogate_dir=str(work / "surrogates"), out_file=str(work / "mixture.yaml"), validate=True
    )
    assert "random won" in summary and [(tag, len(m)) for tag, m in calls] == [("validate", 4), ("validate", 4)]
    data = yaml.safe_load((work / "mixture.yaml").read_text())
    assert data["mixture"]["code"]["token_file"] == "/data/code.npy" and data["mixture"]["code"]["epochs"] <= 4.0
    assert data["solver"]["choice"] == "cv_trust_region"  # the default: radius from the CV, recorded
    assert data["trust_region"]["limit"] == data["trust_region"]["cv"]["radius"] >= data["trust_region"]["distance"]
    val = data["validation"]
    assert val["measured"]["optimized"]["objective"] < val["measured"]["natural"]["objective"]
    assert val["seeds"] == [workdir_config.seed, workdir_config.seed + 1]
    assert set(val["mixtures"]) == {"optimized", "natural", "uniform", "best_sampled"}
    assert len(val["mixtures"]["natural"]["objective"]) == 2 and val["seed_spread"] == 0.0
    assert val["beats"]["natural"]["beats"] and val["beats"]["natural"]["gain"] > 0
    assert val["line"].startswith("validation: optimized") and "best sampled" in val["line"]
    assert val["line"] in capsys.readouterr().out
    # the report's predicted bars are the surrogates' means, the same the line quotes (no uncertainty penalty)
    assert set(val["predicted_objective"]) == set(val["mixtures"])
    assert val["predicted_objective"]["optimized"] == pytest.approx(val["optimized"]["predicted_mean"])
