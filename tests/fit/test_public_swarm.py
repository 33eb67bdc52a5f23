"""A swarm published as mixture and metric CSVs becomes a runs table with group metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from automixer.mixing.public_swarm import group_of, main, swarm_runs_table
from automixer.mixing.runs_table import read_runs_file
from dataplane.errors import InputError

OLMIX = Path(__file__).resolve().parents[2].parent / "shared" / "swarms" / "olmix-dclm"


def _write_swarm(folder: Path, metric_runs=("a", "b", "c")) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratios.csv").write_text(
        ",run,name,index,web,code\n0,a,n0,0,0.7,0.3\n1,b,n1,1,0.2,0.8\n2,c,n2,2,0.5,0.5\n"
    )
    rows = {"a": "1.0,2.0,3.0,9.0", "b": "1.5,2.5,3.5,9.0", "c": "0.5,1.0,2.0,9.0"}
    lines = [",run,name,index,mbpp:3shot,codex_humaneval,hellaswag:rc,lambada"]
    lines += [f"{i},{r},n{i},{i},{rows[r]}" for i, r in enumerate(metric_runs)]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_groups_are_means_of_their_tasks_joined_by_run(tmp_path):
    _write_swarm(tmp_path, metric_runs=("c", "a", "b"))  # metric rows in another order
    groups = {"code": "humaneval|mbpp", "commonsense": "hellaswag"}
    table = swarm_runs_table(tmp_path / "ratios.csv", tmp_path / "metrics.csv", groups)
    assert table.column_names == ["run_id", "mix/web", "mix/code", "metric/code_bpb", "metric/commonsense_bpb"]
    assert table.column("metric/code_bpb").to_pylist() == [1.5, 2.0, 0.75]
    assert table.column("metric/commonsense_bpb").to_pylist() == [3.0, 3.5, 2.0]
    assert json.loads(table.schema.metadata[b"automixer.higher_is_better"]) == []


def test_a_run_without_metrics_and_an_empty_group_are_named(tmp_path):
    _write_swarm(tmp_path, metric_runs=("a", "b"))
    with pytest.raises(InputError, match=r"metrics.csv: no metrics for run 'c'"):
        swarm_runs_table(tmp_path / "ratios.csv", tmp_path / "metrics.csv", {"code": "mbpp"})
    _write_swarm(tmp_path)
    with pytest.raises(InputError, match=r"no task matches group 'math'"):
        swarm_runs_table(tmp_path / "ratios.csv", tmp_path / "metrics.csv", {"math": "minerva"})


def test_tasks_go_to_the_first_matching_group_of_the_readme_mapping():
    assert group_of("basic_skills_coding:rc::olmes") == "code"
    assert group_of("mmlu_abstract_algebra:rc::olmes") == "math"
    assert group_of("mmlu_college_physics:rc::olmes") == "stem"
    assert group_of("csqa:rc::olmes") == "commonsense"
    assert group_of("lambada") is None


@pytest.mark.skipif(not OLMIX.exists(), reason="needs ../shared/swarms/olmix-dclm")
def test_olmix_swarm_becomes_a_runs_table_fit_can_read(tmp_path, capsys):
    out = tmp_path / "olmix.parquet"
    assert main([str(OLMIX), str(out)]) == 0
    assert "127 runs x 24 components" in capsys.readouterr().out
    runs = read_runs_file(out)
    assert runs.num_runs == 127 and len(runs.components) == 24
    assert sorted(runs.metrics) == ["metric/code_bpb", "metric/commonsense_bpb", "metric/math_bpb", "metric/stem_bpb"]
    assert all(np.isfinite(v).all() for v in runs.metrics.values())
    assert pq.read_schema(out).metadata[b"automixer.higher_is_better"] == b"[]"
