"""Metric directions are never guessed; the default objective takes one metric with signal per group;
an infeasible token budget names the largest feasible one."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from automixer.flows.fit import run_fit
from automixer.flows.optimize import run_optimize
from automixer.mixing import acquisition, optimizer
from automixer.mixing.config import OptimizeConfig
from automixer.mixing.metrics import (
    default_objective,
    directions_metadata,
    group_of,
    resolve_directions,
    suffix_direction,
)
from automixer.mixing.runs_table import parse_runs
from automixer.mixing.surrogates import SurrogateSet
from dataplane.errors import ConfigError, InputError

COMPONENTS = ["code", "prose", "math"]


@pytest.mark.parametrize("name, expected", [
    ("metric/code_acc", True), ("stem_accuracy", True), ("metric/code_bpb", False), ("math_loss", False),
    ("web_ppl", False), ("loss", False), ("metric/mmlu_professional_accounting", None), ("metric/backlog", None),
    ("metric/code_accs", None), ("metric/bpb_score", None),
])
def test_suffix_rule_matches_whole_suffixes_only(name, expected):
    assert suffix_direction(name) is expected


def test_config_beats_recorded_beats_suffix_and_unknown_is_an_error():
    metrics = ["metric/code_bpb", "metric/stem_acc", "metric/mmlu_professional_accounting"]
    got = resolve_directions(metrics, ["mmlu_professional_accounting"], {"metric/stem_acc": False}, "t")
    assert got == {"metric/code_bpb": False, "metric/stem_acc": False, "metric/mmlu_professional_accounting": True}
    with pytest.raises(InputError, match="t: direction of metric/mmlu_professional_accounting unknown"):
        resolve_directions(metrics, [], {}, "t")
    got = resolve_directions(metrics, [], {}, "t", ["mmlu_professional_accounting", "stem_acc"])
    assert got == {"metric/code_bpb": False, "metric/stem_acc": False, "metric/mmlu_professional_accounting": False}


def test_recorded_directions_round_trip_through_parquet_metadata(tmp_path):
    table = _acc_runs(12, seed=0).rename_columns(["mix/code", "mix/prose", "mix/math", "metric/code_score"])
    path = tmp_path / "runs.parquet"
    pq.write_table(table.replace_schema_metadata(directions_metadata({"metric/code_score": True})), path)
    runs = parse_runs(pq.read_table(path), str(path))
    assert runs.directions == {"metric/code_score": True}
    assert parse_runs(runs.to_table(), "again").directions == {"metric/code_score": True}


def _acc_runs(n: int, seed: int) -> pa.Table:
    """code_acc rises with the code weight (a capability to maximise)."""
    rng = np.random.default_rng(seed)
    X = rng.dirichlet(np.ones(3), size=n)
    acc = 0.25 + 0.5 * X[:, 0] + 0.01 * rng.standard_normal(n)
    return pa.table({**{f"mix/{c}": X[:, i] for i, c in enumerate(COMPONENTS)}, "metric/code_acc": acc})


@pytest.mark.filterwarnings("ignore:max-epochs constraint skipped")
def test_an_accuracy_is_maximised(tmp_path):
    runs = tmp_path / "runs.parquet"
    pq.write_table(_acc_runs(30, seed=1), runs)
    run_fit(None, runs_file=str(runs), targets=None, out_dir=str(tmp_path / "s"))
    assert SurrogateSet.load(tmp_path / "s").targets["metric/code_acc"].higher_is_better
    run_optimize(None, surrogate_dir=str(tmp_path / "s"), out_file=str(tmp_path / "mixture.yaml"))
    data = yaml.safe_load((tmp_path / "mixture.yaml").read_text())
    natural = data["baselines"]["natural"]
    assert data["mixture"]["code"]["weight"] > natural["weights"]["code"] + 0.2
    assert data["predicted"]["metric/code_acc"]["mean"] > natural["predicted"]["metric/code_acc"]["mean"]
    assert data["objective"]["metrics"] == ["metric/code_acc"] and data["objective"]["higher_is_better"] == [
        "metric/code_acc"
    ]


def test_default_objective_takes_the_best_metric_of_each_group_with_signal():
    scores = {
        "metric/code_loss": 0.7,
        "metric/code_bpb": 0.9,
        "metric/math_bpb": 0.8,
        "metric/math_acc": 0.85,
        "metric/commonsense_bpb": 0.1,
        "metric/commonsense_acc": 0.2,
    }
    with pytest.warns(UserWarning, match="group commonsense left out of the default objective.*commonsense_acc"):
        weights, why = default_objective(scores, 0.3)
    assert weights == {"metric/code_bpb": 0.5, "metric/math_acc": 0.5}
    assert why["groups"] == {"code": "metric/code_bpb", "math": "metric/math_acc"}
    assert why["left_out"]["commonsense"] == {"metric": "metric/commonsense_acc", "spearman": 0.2}
    assert group_of("metric/mmlu_professional_accounting") == "mmlu_professional_accounting"
    with pytest.raises(ConfigError, match="no fitted metric has CV Spearman >= optimize.min_signal=0.95"):
        with pytest.warns(UserWarning):
            default_objective(scores, 0.95)


def test_infeasible_budget_names_the_largest_feasible_one():
    info = {"code": {"tokens": 2_000_000}, "prose": {"tokens": 3_000_000}, "math": {"tokens": 1_000_000}}
    cfg = OptimizeConfig(token_budget=1_000_000_000, max_epochs=4.0, trust_region=2.0)
    with pytest.raises(
        optimizer.InfeasibleError,
        match=r"upper bounds allow at most 0.024 < 1.*largest feasible "
        r"optimize.token_budget is [\d,]+ tokens",
    ) as err:
        optimizer.build_constraints(COMPONENTS, cfg, info, np.eye(3))
    largest = int(str(err.value).split("token_budget is ")[1].split(" ")[0].replace(",", ""))
    assert 24_000_000 - 100 < largest <= 24_000_000  # 4 epochs of the 6M tokens
    optimizer.build_constraints(COMPONENTS, OptimizeConfig(token_budget=largest, trust_region=2.0), info, np.eye(3))


def test_sweep_next_maximises_an_accuracy_and_defaults_to_one_metric_per_group(tmp_path):
    from automixer.config import config_from_dict

    runs = _acc_runs(30, seed=2)
    runs = runs.append_column("metric/code_loss", pa.array(np.full(30, 2.0) + 0.01 * np.arange(30)))
    picks = acquisition.propose_next(
        runs, 3, config_from_dict({"workdir": str(tmp_path)}), signal={"metric/code_acc": 9.0}
    )
    assert picks[0]["code"] > 0.6  # more code: higher accuracy
    assert acquisition.one_per_group(["metric/code_acc", "metric/code_loss", "metric/math_bpb"], None) == {
        "metric/code_loss": 0.5,
        "metric/math_bpb": 0.5,
    }


def test_the_sweep_knows_the_direction_of_every_measure_it_reports():
    from automixer.flows.sweep import metric_directions
    from dataplane.errors import StageError

    assert metric_directions(["run_id", "metric/code_bpb", "metric/math_acc", "metric/stem_loss"]) == {
        "metric/code_bpb": False,
        "metric/math_acc": True,
        "metric/stem_loss": False,
    }
    with pytest.raises(
        StageError,
        match="no direction for measure 'f1' of metric/qa_f1; add it to proxies.evaluate.MEASURE_HIGHER_IS_BETTER",
    ):
        metric_directions(["metric/qa_f1"])
