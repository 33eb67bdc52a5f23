"""The sweep's own signal check: mixture spread against seed-to-seed spread."""

from __future__ import annotations

from automixer.flows.sweep import runs_table
from automixer.sweep.signal import signal_report


def _row(run_id, value, tag="sweep", repeat_of=""):
    return {"run_id": run_id, "tag": tag, "repeat_of": repeat_of, "status": "ok", "metric/x_loss": value}


def test_ratio_compares_mixture_spread_with_seed_spread():
    rows = [_row("p0", 1.0), _row("p1", 2.0), _row("p2", 3.0),
            _row("p0-s1", 1.1, "seed_repeat", "p0"), _row("p1-s1", 1.9, "seed_repeat", "p1")]
    report, ratios = signal_report(runs_table(rows))
    # mixture sd = 1.0; pair differences -0.1, 0.1 -> seed sd = 0.1 / sqrt 2
    assert abs(ratios["metric/x_loss"] - 2 ** 0.5 * 10) < 1e-2
    assert "metric/x_loss" in report and "rank ratio" in report


def test_without_repeats_the_report_says_what_is_missing():
    report, ratios = signal_report(runs_table([_row("p0", 1.0), _row("p1", 2.0)]))
    assert ratios == {} and "seed_repeats" in report
