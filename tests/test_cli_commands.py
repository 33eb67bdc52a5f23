"""CLI: every command documents itself; project errors are one line with exit code 2."""

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from automixer import cli
from automixer.catalog import Catalog, ledger_from_docs, ledger_rows
from dataplane import schema

REPO = Path(__file__).resolve().parents[1]
COMMANDS = sorted(cli.build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "Example:" in out and f"automixer {command}" in out


def _demo_config_with_sources(tmp_path: Path) -> tuple[Path, list[Path]]:
    """configs/demo.yaml with its workdir in tmp_path and a one-document stand-in for each source path."""
    import yaml

    text = (REPO / "configs/demo.yaml").read_text().replace("workdir: runs/demo", f"workdir: {tmp_path}")
    paths = []
    for source in yaml.safe_load(text.replace("{workdir}", str(tmp_path)))["sources"]:
        path = Path(source["paths"][0])
        if source.get("format") == "text":
            path.mkdir(parents=True)
            (path / "m.py").write_text("x = 1\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text('{"text": "a document"}\n')
        paths.append(path)
    config = tmp_path / "demo.yaml"
    config.write_text(text)
    return config, paths


def test_validate_ok_and_dry_run(tmp_path, capsys):
    config, paths = _demo_config_with_sources(tmp_path)
    assert cli.main(["validate", str(config)]) == 0
    assert f"ok ({len(paths)} sources" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["validate", str(REPO / "configs/demo.yaml"), "--seed", "7", "--dry-run"])
    assert "seed: 7" in capsys.readouterr().out


def test_validate_names_a_missing_source_path(tmp_path, capsys):
    config, paths = _demo_config_with_sources(tmp_path)
    if paths[-1].is_dir():
        shutil.rmtree(paths[-1])
    else:
        paths[-1].unlink()
    assert cli.main(["validate", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"sources[{len(paths) - 1}].paths" in err and str(paths[-1]) in err


def test_bad_config_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("workdir: w\nproxy:\n  model:\n    d_model: 65\n    n_heads: 4\n")
    assert cli.main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("automixer validate: error:") and "proxy.model" in err and "divisible" in err


def test_console_script_runs(tmp_path):
    config, _ = _demo_config_with_sources(tmp_path)
    out = subprocess.run([sys.executable, "-m", "automixer.cli", "validate", str(config)],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_stats_and_sql_answer_from_catalog(tmp_path, capsys):
    table = schema.conform(pa.table({"text": ["a", "b"], "source": ["web", "code"], "domain": ["web", "code"],
                                     "bucket": pa.array([0, 1], pa.int32())}))
    with Catalog(tmp_path) as cat:
        cat.replace_ledger("curate", ledger_rows(ledger_from_docs(table, "kept"), "curate"))
    assert cli.main(["stats", "-w", str(tmp_path), "--by", "source"]) == 0
    out = capsys.readouterr().out
    assert "source" in out.splitlines()[0] and "kept" in out.splitlines()[0]
    assert cli.main(["sql", "-w", str(tmp_path), "SELECT source, docs FROM ledger ORDER BY source"]) == 0
    assert "code" in capsys.readouterr().out
    assert cli.main(["sql", "-w", str(tmp_path), "DROP TABLE ledger"]) == 2
    assert cli.main(["sql", "-w", str(tmp_path / "missing"), "SELECT 1"]) == 2


def test_demo_data_builds_every_source(tmp_path):
    from automixer.demo_data import build_demo_data

    counts = build_demo_data(tmp_path, max_modules=40, num_math=30)
    assert counts["math_problems"] == 30 and counts["stdlib_code"] > 10
    assert (tmp_path / "eval" / "math_choices.jsonl").exists()
    code_train = {p.stem for p in (tmp_path / "stdlib_code").iterdir()}
    import json
    code_eval = {json.loads(line)["id"] for line in (tmp_path / "eval" / "code.jsonl").read_text().splitlines()}
    assert not code_train & code_eval
