"""Surrogates on the MDE estimate: fit.features, the MDE candidates in CV, predict from the saved folder alone."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone

from automixer.config import config_from_dict
from automixer.flows.fit import run_fit
from automixer.flows.predict import run_predict
from automixer.mixing.acquisition import mde_inputs, propose_next
from automixer.mixing.believers import GPBeliever
from automixer.mixing.mde import EXPERTS, ExpertStore, MDEEstimator, SetIndex, write_expert, write_index
from automixer.mixing.runs_table import parse_runs
from automixer.mixing.surrogates import (
    MDECalibratedSurrogate,
    MDEFeatureSurrogate,
    SurrogateSet,
    load_surrogate,
    save_surrogate,
)
from dataplane.errors import InputError

COMPONENTS = ["a", "b", "c"]


def _experts(root, seed=0):
    """Expert a knows the code set well, b half the tokens, c little; none of them knows math well."""
    rng = np.random.default_rng(seed)
    sets = [SetIndex("code.jsonl", "code", "00_code", (40,) * 5, (120.0,) * 5),
            SetIndex("math.jsonl", "math", "01_math", (30,) * 4, (80.0,) * 4)]
    write_index(root, sets)
    code = {"a": rng.uniform(0.3, 0.9, 200), "b": np.r_[rng.uniform(0.3, 0.9, 100), rng.uniform(1e-3, 0.05, 100)],
            "c": rng.uniform(1e-3, 0.1, 200)}
    for c in COMPONENTS:
        write_expert(root, c, [np.log(code[c]), np.log(rng.uniform(0.01, 0.2, 120))], {"seed": seed})


@pytest.fixture
def workdir(tmp_path):
    """A workdir with experts and a 24-run table whose code_bpb is an affine map of the MDE estimate."""
    _experts(tmp_path / EXPERTS)
    X = np.random.default_rng(1).dirichlet(np.ones(3), size=24)
    est = MDEEstimator(ExpertStore(tmp_path / EXPERTS, COMPONENTS)).estimate(X)
    noise = np.random.default_rng(2).normal(0, 1e-3, len(X))
    table = pa.table({**{f"mix/{c}": X[:, i] for i, c in enumerate(COMPONENTS)},
                      "metric/code_bpb": 0.2 + 1.5 * est["code_bpb"] + noise,
                      "metric/math_bpb": 3.0 + X[:, 0] ** 2})
    pcsv.write_csv(table, tmp_path / "runs.csv")
    return tmp_path


def _config(workdir, **fit):
    return config_from_dict({"workdir": str(workdir), "seed": 0,
                             "fit": {"cv_folds": 3, "candidates": ["gp", "linear", "mixing_law"], **fit}})


def test_auto_features_add_mde_candidates_and_predict_needs_only_the_folder(workdir, capsys):
    out = workdir / "surr"
    run_fit(_config(workdir), runs_file=str(workdir / "runs.csv"), targets=None, out_dir=str(out))
    assert "MDE features from the experts of 3 components" in capsys.readouterr().out
    manifest = json.loads((out / "surrogates.json").read_text())
    code = manifest["targets"]["metric/code_bpb"]
    assert {"gp+mde", "linear+mde", "mde", "gp", "linear"} <= set(code["cv"])
    assert "mixing_law+mde" not in code["cv"]  # the laws take the weights alone
    assert code["cv"]["mde"]["spearman"] > 0.99
    assert code["surrogate"] in ("mde", "gp+mde", "linear+mde")
    assert manifest["meta"]["experts"] == str(workdir / EXPERTS)
    fresh = np.random.default_rng(5).dirichlet(np.ones(3), size=6)
    pcsv.write_csv(pa.table({f"mix/{c}": fresh[:, i] for i, c in enumerate(COMPONENTS)}), workdir / "new.csv")
    run_predict(str(out), str(workdir / "new.csv"), str(workdir / "pred.csv"))
    pred = pcsv.read_csv(workdir / "pred.csv").column("pred/code_bpb").to_numpy()
    truth = 0.2 + 1.5 * MDEEstimator(ExpertStore(workdir / EXPERTS, COMPONENTS)).estimate(fresh)["code_bpb"]
    np.testing.assert_allclose(pred, truth, atol=0.02 * np.ptp(truth) + 5e-3)


def test_weights_features_fit_as_before(workdir):
    run_fit(_config(workdir, features="weights"), runs_file=str(workdir / "runs.csv"), targets=None,
            out_dir=str(workdir / "w"))
    cv = json.loads((workdir / "w" / "surrogates.json").read_text())["targets"]["metric/code_bpb"]["cv"]
    assert set(cv) == {"gp", "linear", "mixing_law"}


def test_mde_features_without_experts_is_an_error_naming_the_component(workdir, tmp_path_factory):
    bare = tmp_path_factory.mktemp("bare")
    with pytest.raises(InputError, match=r"experts: fit.features is mde, but component 'a' has no finished expert"):
        run_fit(_config(bare, features="mde"), runs_file=str(workdir / "runs.csv"), targets=None,
                out_dir=str(bare / "s"))
    run_fit(_config(bare), runs_file=str(workdir / "runs.csv"), targets=["metric/math_bpb"], out_dir=str(bare / "s"))
    cv = json.loads((bare / "s" / "surrogates.json").read_text())["targets"]["metric/math_bpb"]["cv"]
    assert "mde" not in cv  # auto: no experts, weights only


def test_saved_mde_surrogates_round_trip_and_refuse_changed_experts(workdir, tmp_path):
    table = pcsv.read_csv(workdir / "runs.csv")
    X = np.column_stack([table.column(f"mix/{c}").to_numpy() for c in COMPONENTS])
    y = table.column("metric/code_bpb").to_numpy()
    common = {"experts": str(workdir / EXPERTS), "components": tuple(COMPONENTS), "estimate": "code_bpb"}
    for est in (MDEFeatureSurrogate(base="linear", **common), MDECalibratedSurrogate(**common)):
        model = clone(est).fit(X, y)
        back = load_surrogate(save_surrogate(model, tmp_path / type(est).__name__))
        np.testing.assert_allclose(back.predict(X[:5], return_std=True), model.predict(X[:5], return_std=True))
    calibrated = MDECalibratedSurrogate(**common).fit(X, y)
    assert calibrated.slope_ == pytest.approx(1.5, rel=1e-2) and calibrated.intercept_ == pytest.approx(0.2, abs=0.02)
    _experts(workdir / EXPERTS, seed=9)  # the sweep trained the experts again
    with pytest.raises(InputError, match="the experts changed since this surrogate was fitted"):
        back.predict(X[:2])


def test_surrogate_set_predicts_from_weights_alone(workdir):
    run_fit(_config(workdir, candidates=["linear"]), runs_file=str(workdir / "runs.csv"), targets=["code_bpb"],
            out_dir=str(workdir / "s"))
    sset = SurrogateSet.load(workdir / "s")
    mean, std = sset.predict(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))["metric/code_bpb"]
    assert mean[0] < mean[1] and std is not None  # expert a knows the code set, c does not


def test_sweep_next_gp_believer_reads_the_mde_estimate(workdir):
    runs = parse_runs(pcsv.read_csv(workdir / "runs.csv"), "runs.csv")
    config = config_from_dict({"workdir": str(workdir), "seed": 0, "sweep": {"next_model": "gp"},
                               "optimize": {"objective": {"code_bpb": 1.0}}})
    mde = mde_inputs(runs, config, ["metric/code_bpb", "metric/math_bpb"])
    assert mde["metric/code_bpb"][2] == "code_bpb" and mde["metric/math_bpb"][2] == "math_bpb"
    y = runs.metrics["metric/code_bpb"]
    fresh = np.random.default_rng(8).dirichlet(np.ones(3), size=40)
    truth = 0.2 + 1.5 * MDEEstimator(ExpertStore(workdir / EXPERTS, COMPONENTS)).estimate(fresh)["code_bpb"]
    with_mde = GPBeliever(runs.X_NC, y, 0, mde=mde["metric/code_bpb"]).predict(fresh)[0]
    assert spearmanr(with_mde, truth).statistic > 0.98
    picks = propose_next(runs, 3, config)
    assert len(picks) == 3 and all(abs(sum(p.values()) - 1) < 1e-5 for p in picks)
    law = config_from_dict({"workdir": str(workdir), "sweep": {"next_model": "power_law"}})
    assert mde_inputs(runs, law, ["metric/code_bpb"]) == {}  # the power law reads the weights only
