"""The validation block of the mixture YAML (automixer.flows.validation.summarize): a contract."""

from __future__ import annotations

import math

import pytest

from automixer.flows.validation import NAMES, summarize


def _per(objectives: dict[str, list]) -> dict:
    return {n: {"objective": list(v), "metrics": {"metric/x_bpb": [1.0 + (o or 0) for o in v]},
                "status": ["ok" if o is not None else "failed" for o in v]} for n, v in objectives.items()}


def test_block_holds_per_seed_means_pooled_spread_and_wins():
    per = _per({"optimized": [-2.0, -1.8], "natural": [0.0, 0.2], "uniform": [-1.0, -1.2],
                "best_sampled": [-1.7, -1.9]})
    block = summarize(per, [0, 1], pred_mean=-1.85, pred_std=0.1)
    assert block["seeds"] == [0, 1]
    assert block["mixtures"]["natural"]["objective"] == [0.0, 0.2]
    assert block["mixtures"]["natural"]["objective_mean"] == pytest.approx(0.1)
    assert block["seed_spread"] == pytest.approx(math.sqrt(0.02))  # every mixture's seeds differ by 0.2
    assert block["beats"]["natural"] == {"gain": pytest.approx(2.0), "beats": True}
    assert block["beats"]["uniform"]["beats"] is True
    assert block["beats"]["best_sampled"]["gain"] == pytest.approx(0.1)
    assert not block["beats"]["best_sampled"]["beats"]
    assert block["optimized"] == {"predicted_mean": -1.85, "predicted_std": 0.1, "measured_mean": pytest.approx(-1.9),
                                  "inside_interval": True}
    assert "does NOT beat best sampled" in block["line"] and "-1.850 +- 0.100" in block["line"]
    assert block["measured"]["optimized"]["objective"] == pytest.approx(-1.9)  # the report's view


def test_a_measured_score_outside_the_interval_and_a_failed_run_are_said_plainly():
    per = _per({"optimized": [-3.0, -3.2], "natural": [0.0, None], "uniform": [0.0, 0.1], "best_sampled": [None, None]})
    block = summarize(per, [0, 1], pred_mean=-1.0, pred_std=0.2)
    assert block["optimized"]["inside_interval"] is False and "OUTSIDE" in block["line"]
    assert "best_sampled" not in block["beats"] and "NOT COMPARED with best sampled" in block["line"]
    assert block["mixtures"]["natural"]["objective_mean"] == 0.0 and set(block["mixtures"]) == set(NAMES)


def test_all_wins_are_reported_as_such():
    per = _per({"optimized": [-3.0, -3.1], "natural": [0.0, 0.1], "uniform": [-1.0, -1.1],
                "best_sampled": [-2.0, -2.1]})
    line = summarize(per, [5, 6], pred_mean=-3.0, pred_std=0.1)["line"]
    assert line.startswith("validation: optimized -3.050") and "mean of 2 seeds" in line
    assert line.endswith("beats natural, uniform and best sampled by more than the seed spread")
