"""Pieces of the report page that need no run: escaping and masking, stage wall times, binding constraints."""

from __future__ import annotations

import datetime as dt

from automixer.cli import main
from automixer.config import config_from_dict
from automixer.mixing.mixture import Mixture
from automixer.report.html import doc, table
from automixer.report.model_sections import binding_constraints
from automixer.report.provenance import wall_times


def test_example_documents_are_cut_masked_and_escaped(tmp_path):
    from automixer.report.context import Context

    config = config_from_dict({"workdir": str(tmp_path)})
    ctx = Context(config=config, config_path="c.yaml", cat=None, out_dir=tmp_path, names=set(), runs=[])
    text = "<script>alert(1)</script> write to jane.doe@example.org or call 555-123-4567. " + "x" * 2000
    shown = doc(ctx.example(text))
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "jane.doe@example.org" not in shown and "&lt;EMAIL&gt;" in shown and "555-123-4567" not in shown
    assert "more characters]" in shown and len(shown) < 1000
    assert "&lt;b&gt;" in table([{"name": "<b>x</b>", "n": 1234567}]) and "1,234,567" in table([{"n": 1234567}])


def _run(stage, minute, wall, status="ok", **detail):
    return {"stage": stage, "started_at": dt.datetime(2026, 1, 1, 10, minute), "wall_s": wall, "status": status,
            "config_hash": "h", "detail": detail}


def test_wall_time_is_the_last_run_that_did_the_work_not_a_skipping_rerun():
    runs = [_run("curate", 0, 50.0, prefiltered=4, finalized=4),
            _run("curate", 5, 1.5, prefiltered=0, finalized=0),
            _run("dedup", 6, 9.0, status="failed"),
            _run("dedup", 7, 20.0, signed=3, clustered=1, filtered=3),
            _run("sweep", 8, 100.0, trained=11), _run("sweep", 9, 2.0, trained=0),
            _run("fit", 10, 7.0), _run("fit", 11, 6.0)]
    times = {t["stage"]: t for t in wall_times(runs)}
    assert times["curate"]["wall time (s)"] == 50.0 and times["curate"]["re-runs since, no work"] == 1
    assert times["dedup"]["wall time (s)"] == 20.0 and times["dedup"]["failed runs"] == 1
    assert times["sweep"]["wall time (s)"] == 100.0
    assert times["fit"]["wall time (s)"] == 6.0  # fit always does its work: the last run counts
    assert list(times) == ["curate", "dedup", "sweep", "fit"]


def test_binding_constraints_name_the_config_keys():
    config = config_from_dict({"workdir": "w", "optimize": {
        "token_budget": 1000, "max_epochs": 2.0, "max_synthetic_share": 0.3, "trust_region": 0.5,
        "max_weight": {"a.q0": 0.4}}})
    mix = Mixture(weights={"a.q0": 0.4, "b.q0": 0.3, "synth.qa": 0.3}, token_budget=1000,
                  available_tokens={"a.q0": 10_000, "b.q0": 150, "synth.qa": 10_000},
                  trust_region={"distance": 0.2, "limit": 0.5})
    found = {b["constraint"] for b in binding_constraints(mix, config.optimize, {"synth.qa"})}
    assert found == {"optimize.max_weight.a.q0", "optimize.max_epochs (b.q0)", "optimize.max_synthetic_share"}
    mix.trust_region = {"distance": 0.5, "limit": 0.5}
    assert "optimize.trust_region" in {b["constraint"] for b in binding_constraints(mix, config.optimize, set())}


def test_report_before_any_stage_is_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"workdir: {tmp_path / 'work'}\n")
    assert main(["report", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "automixer curate" in err


def test_a_section_whose_shards_are_gone_says_so_and_the_page_is_still_written(tmp_path):
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq

    from automixer.catalog import Catalog
    from automixer.flows.report import run_report

    workdir, shard = tmp_path / "work", tmp_path / "gone.parquet"
    pq.write_table(pa.table({"source": ["a"], "quality_score": [0.5]}), shard)
    with Catalog(workdir) as cat:
        cat.create_view("curate_kept", f"SELECT * FROM read_parquet('{shard}')")
        cat.record_stage_run("curate", time.time(), "ok", "h", {"prefiltered": 1, "finalized": 1})
    shard.unlink()
    config = config_from_dict({"workdir": str(workdir)})
    summary = run_report(config, config_path="c.yaml")
    html = (workdir / "report" / "index.html").read_text(encoding="utf-8")
    assert "Could not read this section" in html and "gone.parquet" in html
    assert "Not run yet: dedup" in html and "0 of 8 sections" not in summary


def test_metric_directions_come_from_the_config_and_what_the_run_recorded(tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from automixer.catalog import Catalog
    from automixer.report.queries import higher_is_better, relations

    runs = tmp_path / "runs.parquet"
    schema = pa.schema(
        [("metric/code_pass1", pa.float64())], metadata={"automixer.higher_is_better": json.dumps(["code_pass1"])}
    )
    pq.write_table(pa.table({"metric/code_pass1": [0.5]}, schema=schema), runs)
    with Catalog(tmp_path) as cat:
        assert higher_is_better(cat, relations(cat), ["metric/math_acc"], runs) == {"math_acc", "code_pass1"}
        cat.write_table(
            "metric_directions", pa.table({"metric": ["stem_acc", "stem_bpb"], "higher_is_better": [True, False]})
        )
        assert higher_is_better(cat, relations(cat), ["math_acc"], runs) == {"math_acc", "stem_acc"}
