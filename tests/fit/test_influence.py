"""The influence table: on runs with a known answer, each component moves its own group the right way."""

from __future__ import annotations

import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from automixer.catalog import Catalog
from automixer.config import config_from_dict
from automixer.flows.fit import run_fit
from automixer.mixing.influence import group_metrics, influence_table
from automixer.mixing.runs_table import parse_runs, synthetic_runs
from automixer.mixing.surrogates import SurrogateSet


def _config(tmp_path):
    return config_from_dict({"workdir": str(tmp_path), "fit": {"candidates": ["gp", "linear"], "cv_folds": 3}})


def test_fit_writes_an_influence_table_with_the_known_directions(tmp_path, capsys):
    runs = tmp_path / "runs.parquet"
    pq.write_table(synthetic_runs(40, seed=4), runs)
    run_fit(_config(tmp_path), runs_file=str(runs), targets=["code_loss", "math_loss"], out_dir=str(tmp_path / "s"))
    out = capsys.readouterr().out
    assert "influence (score change per unit weight" in out
    rows = pcsv.read_csv(tmp_path / "s" / "influence.csv").to_pylist()
    effect = {(r["group"], r["component"]): r["effect"] for r in rows}
    assert {g for g, _ in effect} == {"code", "math"} and len(rows) == 8
    # code_loss = 3 + 1.2 exp(-3 code) + 0.3 math: code helps code, math hurts it.
    assert effect[("code", "code")] > 0.5 and effect[("code", "math")] < 0
    # math_loss = 3 + exp(-4 math - synth.qa): math helps math most, code and stem hurt it.
    assert effect[("math", "math")] == max(e for (g, _), e in effect.items() if g == "math") > 0.5
    assert effect[("math", "code")] < 0 and effect[("math", "stem")] < 0
    assert {r["direction"] for r in rows if r["effect"] > 0} == {"helps"}
    assert (tmp_path / "plots" / "influence.png").stat().st_size > 0
    with Catalog(tmp_path, read_only=True) as catalog:
        assert catalog.query("SELECT count(*) AS n FROM influence").column("n")[0].as_py() == 8


def test_an_accuracy_counts_as_improving_when_it_rises(tmp_path):
    table = synthetic_runs(40, seed=4)
    table = table.append_column("metric/code_acc", table.column("mix/code"))  # rises with code
    pq.write_table(table.drop_columns(["metric/code_loss", "metric/math_loss", "metric/loss"]), tmp_path / "r.parquet")
    run_fit(_config(tmp_path), runs_file=str(tmp_path / "r.parquet"), targets=None, out_dir=str(tmp_path / "s"))
    sset = SurrogateSet.load(tmp_path / "s")
    assert group_metrics(sset) == {"code": "metric/code_acc"}
    X = parse_runs(table, "t").X_NC
    effect = {r["component"]: r["effect"] for r in influence_table(sset, X, X.mean(0)).to_pylist()}
    assert effect["code"] > 0 and effect["math"] < 0
