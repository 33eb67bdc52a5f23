"""Bad inputs to fit, predict and optimize (issue 27): each is one line naming the file or key, exit code 2,
through the CLI; a surrogate is never used on other components than it was fitted on."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
import yaml

from automixer.catalog import Catalog
from automixer.cli import main
from automixer.mixing.runs_table import SYNTHETIC_COMPONENTS, parse_runs, synthetic_runs
from automixer.mixing.surrogates import SurrogateSet, TargetModel, make_surrogate

FAST_FIT = {"candidates": ["linear"], "cv_folds": 3, "targets": ["metric/code_loss"]}
FAST_OPT = {"n_trials": 20, "random_samples": 500}
MIX = [f"mix/{c}" for c in SYNTHETIC_COMPONENTS]


def _config(tmp: Path, workdir: Path, name: str = "run.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump({"workdir": str(workdir), "fit": FAST_FIT, "optimize": FAST_OPT}))
    return path


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_error(code: int, err: str, command: str, *names: str) -> None:
    assert code == 2, err
    assert err.startswith(f"automixer {command}: error: ") and err.count("\n") == 1, err
    for name in names:
        assert str(name) in err, (name, err)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """A surrogate folder fitted on 24 synthetic runs over code, stem, math, synth.qa (linear, metric/code_loss)."""
    tmp = tmp_path_factory.mktemp("fitted")
    runs = tmp / "runs.csv"
    pcsv.write_csv(synthetic_runs(24, seed=5), runs)
    assert main(["fit", str(_config(tmp, tmp / "work")), "--runs", str(runs), "--out", str(tmp / "surr")]) == 0
    return tmp / "surr"


@pytest.fixture
def surr(fitted, tmp_path) -> Path:
    """A copy of the fitted folder that a test may damage."""
    return Path(shutil.copytree(fitted, tmp_path / "surr"))


@pytest.fixture
def mixtures(tmp_path) -> Path:
    path = tmp_path / "mixes.csv"
    pcsv.write_csv(synthetic_runs(4, seed=9).select(MIX), path)
    return path


# --- fit ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def unwritable_dir(tmp_path):
    """A folder the process cannot write to: chmod 0555 for a normal user; root writes anyway, so /proc/sys."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    elif Path("/proc/sys").is_dir() and not os.access("/proc/sys", os.W_OK):
        yield Path("/proc/sys")
    else:
        pytest.skip("running as root without a folder root cannot write to")


def test_fit_into_an_unwritable_workdir(unwritable_dir, tmp_path, capsys):
    runs = tmp_path / "runs.csv"
    pcsv.write_csv(synthetic_runs(12, seed=1), runs)
    config = _config(tmp_path, unwritable_dir)
    code, _, err = _cli(capsys, "fit", config, "--runs", runs, "--out", tmp_path / "surr")
    _one_line_error(code, err, "fit", f"workdir {unwritable_dir}", "not writable")
    code, _, err = _cli(capsys, "fit", "--runs", runs, "--out", unwritable_dir / "surr")
    _one_line_error(code, err, "fit", unwritable_dir / "surr")


def test_fit_runs_with_a_duplicated_column(tmp_path, capsys):
    table = synthetic_runs(12, seed=1)
    runs = tmp_path / "dup.csv"
    pcsv.write_csv(table.append_column("mix/math", table.column("mix/math")), runs)
    code, _, err = _cli(capsys, "fit", "--runs", runs, "--out", tmp_path / "surr")
    _one_line_error(code, err, "fit", runs, "column mix/math appears 2 times")


def test_an_infinite_metric_warns_with_the_count_of_runs_left_out(tmp_path, capsys):
    table = synthetic_runs(16, seed=2)
    values = table.column("metric/code_loss").to_numpy().copy()
    values[[3, 7]] = np.inf
    values[5] = np.nan  # a missing value is left out without a word
    runs = tmp_path / "runs.csv"
    column = table.column_names.index("metric/code_loss")
    pcsv.write_csv(table.set_column(column, "metric/code_loss", pa.array(values)), runs)
    with pytest.warns(UserWarning) as record:
        code, _, _ = _cli(capsys, "fit", _config(tmp_path, tmp_path / "work"), "--runs", runs, "--out", tmp_path / "s")
    assert code == 0
    infinite = [str(w.message) for w in record if "infinite" in str(w.message)]
    assert len(infinite) == 1 and "metric/code_loss is infinite in 2 of 16 runs (r003, r007)" in infinite[0]
    fitted_on = pcsv.read_csv(tmp_path / "s" / "cv_predictions.csv").column("measured").to_numpy()
    assert len(fitted_on) == 13 and np.isfinite(fitted_on).all()  # 16 runs less 2 infinite, 1 missing


# --- predict ------------------------------------------------------------------------------------------------------
def test_predict_a_non_numeric_weight(fitted, mixtures, tmp_path, capsys):
    lines = mixtures.read_text().splitlines()
    lines[2] = "abc" + lines[2][lines[2].index(","):]
    mixtures.write_text("\n".join(lines) + "\n")
    code, _, err = _cli(capsys, "predict", "--surrogate", fitted, "--mixtures", mixtures, "--out", tmp_path / "p.csv")
    _one_line_error(code, err, "predict", mixtures, "column mix/code must be numeric")


def test_predict_takes_rounded_weights_like_fit_does(fitted, tmp_path, capsys):
    """RegMix publishes weights rounded to 2 decimals: predict renormalises them with fit --runs's one warning."""
    exact = synthetic_runs(6, seed=4).select(MIX)
    rounded = pa.table({c: np.round(exact.column(c).to_numpy(), 2) for c in MIX})
    sums = np.sum([rounded.column(c).to_numpy() for c in MIX], axis=0)
    assert np.abs(sums - 1).max() > 1e-3  # off by more than float noise
    pcsv.write_csv(rounded, tmp_path / "rounded.csv")
    with pytest.warns(UserWarning, match="rows have mix/\\* weights summing to 1 only within rounding") as record:
        code, _, err = _cli(capsys, "predict", "--surrogate", fitted, "--mixtures", tmp_path / "rounded.csv",
                            "--out", tmp_path / "p.csv")
    assert code == 0, err
    assert len([w for w in record if "rounding" in str(w.message)]) == 1
    pred = pcsv.read_csv(tmp_path / "p.csv").column("pred/code_loss").to_numpy()
    assert pred.shape == (6,) and np.isfinite(pred).all()

    runs = synthetic_runs(12, seed=1)
    weights = {c: np.round(runs.column(c).to_numpy(), 2) for c in MIX}
    pcsv.write_csv(pa.table({**weights, "metric/code_loss": runs.column("metric/code_loss")}), tmp_path / "runs.csv")
    with pytest.warns(UserWarning, match="rows have mix/\\* weights summing to 1 only within rounding"):
        assert _cli(capsys, "fit", _config(tmp_path, tmp_path / "w"), "--runs", tmp_path / "runs.csv",
                    "--out", tmp_path / "s")[0] == 0


def test_predict_mixtures_over_other_components(fitted, tmp_path, capsys):
    other = tmp_path / "other.csv"
    pcsv.write_csv(pa.table({"mix/web": [0.5, 0.2], "mix/code": [0.3, 0.4], "mix/math": [0.2, 0.4]}), other)
    code, _, err = _cli(capsys, "predict", "--surrogate", fitted, "--mixtures", other, "--out", tmp_path / "p.csv")
    _one_line_error(code, err, "predict", other, "web, code, math", "code, stem, math, synth.qa")


# --- damaged surrogate folders ------------------------------------------------------------------------------------
def _damage(surr: Path, how: str) -> Path:
    """Damage the folder; return the file the error must name."""
    manifest = surr / "surrogates.json"
    npy = sorted((surr / "metric_code_loss").glob("*.npy"))[0]
    if how == "truncated surrogates.json":
        manifest.write_text(manifest.read_text()[:120])
        return manifest
    if how == "garbage surrogates.json":
        manifest.write_bytes(b"\x00\xff\xfe not json at all")
        return manifest
    if how == "surrogates.json without targets":
        manifest.write_text(json.dumps({"components": ["code"]}))
        return manifest
    if how == "missing .npy":
        npy.unlink()
        return npy
    if how == "garbage .npy":
        npy.write_bytes(b"garbage")
        return npy
    if how == "truncated .npy":
        npy.write_bytes(npy.read_bytes()[:140])
        return npy
    raise AssertionError(how)


DAMAGES = ["truncated surrogates.json", "garbage surrogates.json", "surrogates.json without targets", "missing .npy",
           "garbage .npy", "truncated .npy"]


@pytest.mark.parametrize("command", ["predict", "optimize"])
@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_surrogate_folder(how, command, surr, mixtures, tmp_path, capsys):
    named = _damage(surr, how)
    if command == "predict":
        args = ["predict", "--surrogate", surr, "--mixtures", mixtures, "--out", tmp_path / "p.csv"]
    else:
        args = ["optimize", _config(tmp_path, tmp_path / "work"), "--surrogate", surr, "--out", tmp_path / "m.yaml"]
    code, _, err = _cli(capsys, *args)
    _one_line_error(code, err, command, named)
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "m.yaml").exists()


def test_a_runs_table_replaced_in_the_surrogate_folder(surr, tmp_path, capsys):
    pq.write_table(synthetic_runs(24, seed=6), surr / "runs.parquet")
    code, _, err = _cli(capsys, "optimize", _config(tmp_path, tmp_path / "work"), "--surrogate", surr,
                        "--out", tmp_path / "m.yaml")
    _one_line_error(code, err, "optimize", surr / "runs.parquet", "not the runs table the surrogates were fitted on")


def test_a_folder_from_before_the_fingerprint_still_optimizes_with_a_warning(surr, tmp_path, capsys):
    manifest = json.loads((surr / "surrogates.json").read_text())
    del manifest["meta"]["runs"]["fingerprint"]
    (surr / "surrogates.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="no runs fingerprint"):
        code, _, err = _cli(capsys, "optimize", _config(tmp_path, tmp_path / "work"), "--surrogate", surr,
                            "--out", tmp_path / "m.yaml")
    assert code == 0, err


# --- a surrogate never used on other components --------------------------------------------------------------------
def _components_table(workdir: Path, names: list[str], tokens: int = 10**9) -> None:
    rows = [{"component": c, "docs": 100, "tokens": tokens, "synthetic": c.startswith("synth"),
             "natural_weight": 1.0 / len(names), "token_file": f"{workdir}/components/{c}.bin", "shards": []}
            for c in names]
    with Catalog(workdir) as catalog:
        catalog.write_table("components", pa.Table.from_pylist(rows))


def test_optimize_refuses_a_surrogate_fitted_on_other_components(fitted, tmp_path, capsys):
    workdir = tmp_path / "work"
    _components_table(workdir, ["stdlib_code", "stdlib_docs", "math_problems"])
    code, _, err = _cli(capsys, "optimize", _config(tmp_path, workdir), "--surrogate", fitted,
                        "--out", tmp_path / "m.yaml")
    _one_line_error(code, err, "optimize", "stdlib_code, stdlib_docs, math_problems", "code, stem, math, synth.qa",
                    fitted)
    assert not (tmp_path / "m.yaml").exists()


def test_optimize_with_the_matching_components_table_warns_nothing_about_tokens(fitted, tmp_path, capsys):
    workdir = tmp_path / "work"
    _components_table(workdir, list(SYNTHETIC_COMPONENTS))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        code, _, err = _cli(capsys, "optimize", _config(tmp_path, workdir), "--surrogate", fitted,
                            "--out", tmp_path / "m.yaml")
    assert code == 0, err
    assert not [w for w in record if "tokens unknown" in str(w.message)]
    assert (tmp_path / "m.yaml").exists()


def test_the_tokens_warning_says_why_tokens_are_unknown(fitted, tmp_path, capsys):
    with pytest.warns(UserWarning, match="available tokens unknown: no components table or components.json"):
        assert _cli(capsys, "optimize", "--surrogate", fitted, "--out", tmp_path / "a.yaml")[0] == 0
    workdir = tmp_path / "work"
    _components_table(workdir, list(SYNTHETIC_COMPONENTS), tokens=0)
    with pytest.warns(UserWarning, match="available tokens unknown: the components table gives no token count"):
        assert _cli(capsys, "optimize", _config(tmp_path, workdir), "--surrogate", fitted,
                    "--out", tmp_path / "b.yaml")[0] == 0


def test_a_damaged_lightgbm_model_file(mixtures, tmp_path, capsys):
    runs = parse_runs(synthetic_runs(24, seed=5), "runs")
    y = runs.metrics["metric/code_loss"]
    model = make_surrogate("lightgbm", random_state=0).fit(runs.X_NC, y)
    target = TargetModel("metric/code_loss", "lightgbm", model, False, float(y.mean()), float(y.std()))
    SurrogateSet(runs.components, {"metric/code_loss": target}).save(tmp_path / "lgb")
    args = ["predict", "--surrogate", tmp_path / "lgb", "--mixtures", mixtures, "--out", tmp_path / "p.csv"]
    assert _cli(capsys, *args)[0] == 0
    booster = tmp_path / "lgb" / "metric_code_loss" / "lightgbm_0.txt"
    booster.write_text("tree\nnot a model\n")
    code, _, err = _cli(capsys, *args)
    _one_line_error(code, err, "predict", booster, "not a LightGBM model file")


def test_optimize_into_an_unwritable_workdir_or_under_a_file(fitted, unwritable_dir, tmp_path, capsys):
    code, _, err = _cli(capsys, "optimize", _config(tmp_path, unwritable_dir), "--surrogate", fitted,
                        "--out", tmp_path / "m.yaml")
    _one_line_error(code, err, "optimize", f"workdir {unwritable_dir}", "not writable")
    (tmp_path / "a_file").write_text("")
    code, _, err = _cli(capsys, "optimize", "--surrogate", fitted, "--out", tmp_path / "a_file" / "m.yaml")
    _one_line_error(code, err, "optimize", tmp_path / "a_file", "is a file")
