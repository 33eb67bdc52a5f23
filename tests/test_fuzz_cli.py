"""Every command over a generated set of broken inputs: exit code 2 and exactly one line on stderr,
never a traceback (issue 27).

The inputs are built from mutation lists (configs, JSONL, Parquet, runs tables, mixtures, surrogate
folders, workdirs) and crossed with the commands that read them. Commands run in process through
``automixer.cli.main``; only the "stage has not run" cases need Ray, and they share the session's.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from automixer import cli
from automixer.mixing.runs_table import synthetic_runs

Builder = Callable[[Path], list[str]]


# --- broken configs -----------------------------------------------------------------------------
def _source(d: Path) -> Path:
    path = d / "docs.jsonl"
    path.write_text('{"text": "one document"}\n')
    return path


def _yaml(d: Path, body: str) -> Path:
    path = d / "run.yaml"
    path.write_text(f"workdir: {d / 'w'}\nsources:\n  - {{name: docs, paths: [{_source(d)}]}}\n{body}")
    return path


def _raw(content: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / "run.yaml"
        path.write_bytes(content)
        return path
    return make


def _text(make_text: Callable[[Path], str]) -> Callable[[Path], Path]:
    """A config whose text depends on the case folder (paths of existing or missing sources)."""
    return lambda d: _raw(make_text(d).encode())(d)


def _empty(d: Path) -> Path:
    path = d / "empty.jsonl"
    path.write_text("")
    return path


def _folder(d: Path) -> Path:
    (d / "configs").mkdir()
    return d / "configs"


def _workdir_is_file(d: Path) -> Path:
    config = _yaml(d, "")
    (d / "w").write_text("a file where the workdir should be")
    return config


CONFIGS: dict[str, Callable[[Path], Path]] = {
    "missing": lambda d: d / "nope.yaml",
    "folder": _folder,
    "not_utf8": _raw("workdir: w\n# caf\u00e9\n".encode("latin-1")),
    "empty": _raw(b""),
    "nul_bytes": _raw(b"\x00\x00\x00"),
    "bad_yaml": _raw(b"workdir: [unclosed\n"),
    "tabs": _raw(b"workdir: w\nsources:\n\t- name: x\n"),
    "top_level_list": _raw(b"- workdir\n- w\n"),
    "top_level_scalar": _raw(b"just words\n"),
    "unknown_key": lambda d: _yaml(d, "workdri: x\n"),
    "nested_unknown_key": lambda d: _yaml(d, "dedup: {treshold: 0.8}\n"),
    "wrong_type": lambda d: _yaml(d, "seed: abc\n"),
    "section_not_mapping": lambda d: _yaml(d, "curation: 3\n"),
    "no_workdir": _raw(b"seed: 1\n"),
    "sources_not_list": _raw(b"workdir: w\nsources: {name: x}\n"),
    "source_without_paths": _raw(b"workdir: w\nsources:\n  - {name: x}\n"),
    "bad_format": _text(lambda d: f"workdir: w\nsources:\n  - {{name: x, paths: [{_source(d)}], format: csv}}\n"),
    "duplicate_sources": _text(lambda d: f"workdir: w\nsources:\n  - {{name: x, paths: [{_source(d)}]}}\n"
                                         f"  - {{name: x, paths: [{_source(d)}]}}\n"),
    "negative_d_model": lambda d: _yaml(d, "proxy:\n  model: {d_model: -64}\n"),
    "zero_objective": lambda d: _yaml(d, "optimize:\n  objective: {'metric/a': 0}\n"),
    "huge_num_perm": lambda d: _yaml(d, "dedup: {num_perm: 1000000000000}\n"),
    "threshold_above_1": lambda d: _yaml(d, "dedup: {threshold: 2}\n"),
    "num_cpus_zero": lambda d: _yaml(d, "ray: {num_cpus: 0}\n"),
    "keep_fraction_above_1": lambda d: _yaml(d, "curation: {keep_fractions: [1.0, 1.5]}\n"),
    "synth_unknown_source": lambda d: _yaml(d, "synth:\n  policy: [{strategy: qa, sources: [nope]}]\n"),
}
PATH_CONFIGS: dict[str, Callable[[Path], Path]] = {  # load fine; only validate and curate look at the files
    "missing_source": _text(lambda d: f"workdir: w\nsources:\n  - {{name: x, paths: [{d / 'gone.jsonl'}]}}\n"),
    "glob_matches_nothing": _text(lambda d: f"workdir: w\nsources:\n  - {{name: x, paths: ['{d}/*.none']}}\n"),
    "empty_source_file": _text(lambda d: f"workdir: w\nsources:\n  - {{name: x, paths: [{_empty(d)}]}}\n"),
}


def _config_commands(surrogate: Path) -> dict[str, Callable[[Path, Path], list[str]]]:
    return {
        "validate": lambda c, d: ["validate", str(c)],
        "curate": lambda c, d: ["curate", str(c)],
        "dedup": lambda c, d: ["dedup", str(c)],
        "synth": lambda c, d: ["synth", str(c)],
        "sweep": lambda c, d: ["sweep", str(c)],
        "fit": lambda c, d: ["fit", str(c), "--out", str(d / "surr")],
        "optimize": lambda c, d: ["optimize", str(c), "--surrogate", str(surrogate), "--out", str(d / "m.yaml")],
        "report": lambda c, d: ["report", str(c)],
        "stats": lambda c, d: ["stats", "-c", str(c)],
        "sql": lambda c, d: ["sql", "-c", str(c), "SELECT 1"],
        "export": lambda c, d: ["export", str(c), "--mixture", str(d / "m.yaml"), "--tokenizer", str(d / "tok.json"),
                                "--out", str(d / "export")],
        "demo": lambda c, d: ["demo", str(c)],
    }


# --- broken JSONL and Parquet for dedup --input -------------------------------------------------------
def _write(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / name
        path.write_bytes(content)
        return path
    return make


def _parquet(name: str, table: pa.Table, cut: int | None = None) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / name
        pq.write_table(table, path)
        if cut is not None:
            path.write_bytes(path.read_bytes()[:cut])
        return path
    return make


def _gz_truncated(d: Path) -> Path:
    path = d / "docs.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": 1, "text": "a"}\n' * 200)[:30])
    return path


GOOD_ROW = b'{"id": 1, "text": "fine"}\n'
BARE_INPUTS: dict[str, Callable[[Path], Path]] = {
    "missing": lambda d: d / "nope.jsonl",
    "folder": _folder,
    "not_utf8": _write("docs.jsonl", GOOD_ROW + b'{"id": 2, "text": "caf\xe9"}\n'),
    "bad_json": _write("docs.jsonl", GOOD_ROW + b'{"id": 2, "text": \n'),
    "not_an_object": _write("docs.jsonl", b"[1, 2]\n"),
    "no_id": _write("docs.jsonl", b'{"text": "fine"}\n'),
    "text_not_string": _write("docs.jsonl", b'{"id": 1, "text": 5}\n'),
    "binary": _write("docs.jsonl", bytes(range(256))),
    "gz_truncated": _gz_truncated,
    "gz_garbage": _write("docs.jsonl.gz", b"not gzip at all"),
    "parquet_fake": _write("docs.parquet", b"id,text\n1,a\n"),
    "parquet_truncated": _parquet("docs.parquet", pa.table({"id": [1], "text": ["a"]}), cut=30),
    "parquet_no_text": _parquet("docs.parquet", pa.table({"id": [1], "body": ["a"]})),
    "parquet_no_id": _parquet("docs.parquet", pa.table({"text": ["a"]})),
}


# --- broken runs tables, mixtures and surrogate folders --------------------------------------------
def _csv(name: str, text: str) -> Callable[[Path], Path]:
    return _write(name, text.encode())


def _runs_with(change: Callable[[pa.Table], pa.Table]) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / "runs.csv"
        pcsv.write_csv(change(synthetic_runs(12, seed=1)), path)
        return path
    return make


def _strings(table: pa.Table, column: str) -> pa.Table:
    values = ["lots"] + [str(v) for v in table.column(column).to_pylist()[1:]]
    return table.set_column(table.column_names.index(column), column, pa.array(values))


RUNS_TABLES: dict[str, Callable[[Path], Path]] = {
    "missing": lambda d: d / "nope.csv",
    "folder": _folder,
    "empty": _csv("runs.csv", ""),
    "header_only": _csv("runs.csv", "mix/a,mix/b,metric/loss\n"),
    "not_utf8": _write("runs.csv", b"mix/a,mix/b,metric/loss\n0.5,0.5,1.0\n0.3,0.7,caf\xe9\n"),
    "no_mix_columns": _runs_with(lambda t: t.select([c for c in t.column_names if not c.startswith("mix/")])),
    "no_metric_columns": _runs_with(lambda t: t.select([c for c in t.column_names if not c.startswith("metric/")])),
    "non_numeric_metric": _runs_with(lambda t: _strings(t, "metric/loss")),
    "non_numeric_weight": _runs_with(lambda t: _strings(t, "mix/code")),
    "weights_not_summing": _runs_with(lambda t: t.set_column(t.column_names.index("mix/code"), "mix/code",
                                                             pa.array([5.0] * t.num_rows))),
    "one_run": _runs_with(lambda t: t.slice(0, 1)),
    "duplicated_column": _csv("runs.csv", "mix/a,mix/a,metric/loss\n0.5,0.5,1.0\n0.4,0.6,2.0\n0.3,0.7,1.5\n"),
    "parquet_fake": _write("runs.parquet", b"not parquet"),
    "unknown_suffix": _csv("runs.txt", "mix/a,metric/loss\n1,1\n"),
}


def _mixtures_with(change: Callable[[pa.Table], pa.Table]) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / "mixes.csv"
        pcsv.write_csv(change(synthetic_runs(3, seed=2).select(["mix/code", "mix/stem", "mix/math", "mix/synth.qa"])),
                       path)
        return path
    return make


MIXTURES: dict[str, Callable[[Path], Path]] = {
    "missing": lambda d: d / "nope.csv",
    "folder": _folder,
    "empty": _csv("mixes.csv", ""),
    "other_components": _csv("mixes.csv", "mix/web,mix/books\n0.5,0.5\n"),
    "non_numeric_weight": _mixtures_with(lambda t: _strings(t, "mix/code")),
    "weights_not_summing": _mixtures_with(lambda t: t.set_column(0, "mix/code", pa.array([3.0, 3.0, 3.0]))),
    "negative_weight": _mixtures_with(lambda t: t.set_column(0, "mix/code", pa.array([-0.5, 0.1, 0.1]))),
    "parquet_fake": _write("mixes.parquet", b"not parquet"),
}


def _surrogate_copy(change: Callable[[Path], None]) -> Callable[[Path, Path], Path]:
    def make(d: Path, good: Path) -> Path:
        folder = d / "surr"
        shutil.copytree(good, folder)
        change(folder)
        return folder
    return make


def _first_npy(folder: Path) -> Path:
    return sorted(folder.rglob("*.npy"))[0]


SURROGATES: dict[str, Callable[[Path, Path], Path]] = {
    "missing": lambda d, good: d / "nope",
    "empty_folder": lambda d, good: _folder(d),
    "a_file": lambda d, good: _write("surr", b"not a folder")(d),
    "json_garbage": _surrogate_copy(lambda f: (f / "surrogates.json").write_text("{{{ not json")),
    "json_truncated": _surrogate_copy(lambda f: (f / "surrogates.json").write_text(
        (f / "surrogates.json").read_text()[:200])),
    "json_a_list": _surrogate_copy(lambda f: (f / "surrogates.json").write_text("[1, 2]")),
    "json_not_utf8": _surrogate_copy(lambda f: (f / "surrogates.json").write_bytes(b'{"x": "\xff"}')),
    "npy_missing": _surrogate_copy(lambda f: _first_npy(f).unlink()),
    "npy_corrupt": _surrogate_copy(lambda f: _first_npy(f).write_bytes(b"\x93NUMPY garbage")),
    "npy_wrong_shape": _surrogate_copy(lambda f: np.save(_first_npy(f), np.zeros((7, 3)))),
}

# --- the cases ------------------------------------------------------------------------------------
def _cases(surrogate: Path) -> dict[str, Callable[[Path], list[str]]]:
    cases: dict[str, Callable[[Path], list[str]]] = {}
    for cmd, argv in _config_commands(surrogate).items():
        for name, make in CONFIGS.items():
            cases[f"config-{name}-{cmd}"] = lambda d, argv=argv, make=make: argv(make(d), d)
    for cmd in ("validate", "curate"):
        for name, make in PATH_CONFIGS.items():
            cases[f"config-{name}-{cmd}"] = lambda d, argv=_config_commands(surrogate)[cmd], make=make: argv(make(d), d)
    for cmd in ("curate", "dedup", "synth", "sweep", "export", "demo"):
        argv = _config_commands(surrogate)[cmd]
        cases[f"workdir_is_a_file-{cmd}"] = lambda d, argv=argv: argv(_workdir_is_file(d), d)
    for name, make in BARE_INPUTS.items():
        cases[f"dedup_input-{name}"] = lambda d, make=make: ["dedup", "--input", str(make(d)), "--output", str(d / "o")]
    good_row = _write("ok.jsonl", GOOD_ROW)
    cases["dedup_output_is_a_file"] = lambda d: ["dedup", "--input", str(good_row(d)), "--output", str(good_row(d))]
    cases["dedup_input_without_output"] = lambda d: ["dedup", "--input", str(good_row(d))]
    cases["dedup_without_config_or_input"] = lambda d: ["dedup"]
    cases["dedup_num_perm_huge"] = lambda d: ["dedup", "--input", str(good_row(d)), "--output", str(d / "o"),
                                              "--num-perm", "1000000000000"]
    cases["dedup_threshold_nan"] = lambda d: ["dedup", "--input", str(good_row(d)), "--output", str(d / "o"),
                                              "--threshold", "nan"]
    for name, make in RUNS_TABLES.items():
        cases[f"fit_runs-{name}"] = lambda d, make=make: ["fit", "--runs", str(make(d)), "--out", str(d / "s")]
    cases["fit_unknown_target"] = lambda d: ["fit", "--runs", str(_runs_with(lambda t: t)(d)), "--target",
                                             "metric/nope", "--out", str(d / "s")]
    for name, make in MIXTURES.items():
        cases[f"predict_mixtures-{name}"] = lambda d, make=make: [
            "predict", "--surrogate", str(surrogate), "--mixtures", str(make(d)), "--out", str(d / "p.csv")]
    ok_mix = _mixtures_with(lambda t: t)
    cases["predict_out_unknown_suffix"] = lambda d: ["predict", "--surrogate", str(surrogate), "--mixtures",
                                                     str(ok_mix(d)), "--out", str(d / "p.txt")]
    for name, make in SURROGATES.items():
        cases[f"predict_surrogate-{name}"] = lambda d, make=make: [
            "predict", "--surrogate", str(make(d, surrogate)), "--mixtures", str(ok_mix(d)), "--out", str(d / "p.csv")]
        cases[f"optimize_surrogate-{name}"] = lambda d, make=make: [
            "optimize", "--surrogate", str(make(d, surrogate)), "--out", str(d / "m.yaml")]
    cases["stats_no_catalog"] = lambda d: ["stats", "-w", str(d)]
    cases["stats_unknown_key"] = lambda d: ["stats", "-w", str(d), "--by", "colour"]
    cases["sql_no_catalog"] = lambda d: ["sql", "-w", str(d), "SELECT 1"]
    cases["sql_workdir_is_a_file"] = lambda d: ["sql", "-w", str(good_row(d)), "SELECT 1"]
    cases["demo_data_into_a_file"] = lambda d: ["demo-data", str(good_row(d))]
    cases["demo_data_under_a_file"] = lambda d: ["demo-data", str(good_row(d) / "sub")]
    cases["report_workdir_is_a_file"] = lambda d: ["report", str(_workdir_is_file(d))]
    return cases


@pytest.fixture(scope="module")
def surrogate(tmp_path_factory) -> Path:
    """A small fitted surrogate folder (linear, 16 runs)."""
    d = tmp_path_factory.mktemp("fuzz_surrogate")
    pcsv.write_csv(synthetic_runs(16, seed=3).drop_columns(["metric/math_loss"]), d / "runs.csv")
    config = d / "fit.yaml"
    config.write_text(f"workdir: {d / 'w'}\nfit: {{candidates: [linear], cv_folds: 3}}\n")
    assert cli.main(["fit", str(config), "--runs", str(d / "runs.csv"), "--out", str(d / "surr")]) == 0
    return d / "surr"


CASE_NAMES = sorted(_cases(Path("unused")))


def _run(argv: list[str], capsys) -> tuple[int | None, str]:
    capsys.readouterr()
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # a command that exits by itself (none of the cases should)
        code = exc.code
    return code, capsys.readouterr().err


def _one_line_exit_2(code, err: str) -> bool:
    lines = err.strip().splitlines()
    return code == 2 and len(lines) == 1 and "Traceback" not in err and lines[0].startswith("automixer ")


@pytest.mark.parametrize("case", CASE_NAMES)
def test_broken_input_is_one_line_and_exit_2(case, surrogate, tmp_path, capsys):
    argv = _cases(surrogate)[case](tmp_path)
    code, err = _run(argv, capsys)
    assert _one_line_exit_2(code, err), f"{argv}: exit {code}, stderr:\n{err}"


@pytest.mark.parametrize("command", ["dedup", "synth", "sweep", "fit", "optimize"])
def test_a_stage_before_the_one_it_reads_is_one_line_and_exit_2(command, tmp_path, request, capsys):
    """A valid config on an empty workdir: the stage it reads from has not run."""
    if command in ("dedup", "synth", "sweep"):
        request.getfixturevalue("ray_local")  # these start Ray before they look: share the session's
    config = _yaml(tmp_path, "")
    argv = _config_commands(tmp_path / "no_surrogate")[command](config, tmp_path)
    code, err = _run(argv, capsys)
    assert _one_line_exit_2(code, err), f"{argv}: exit {code}, stderr:\n{err}"
