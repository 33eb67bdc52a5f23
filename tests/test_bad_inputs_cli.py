"""Bad inputs through the CLI (issue 27.4 / 27.5): one line on stderr naming the file or key, exit code 2.

None of these start Ray: each error is found before any work starts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from automixer import cli
from dataplane.store import atomic_write_text, write_parquet


def _one_line_error(capsys, argv: list[str]) -> str:
    """Run the CLI in process; assert exit 2 and one stderr line without a traceback; return that line."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith(f"automixer {argv[0]}: error: "), err
    return err


def _config(tmp_path: Path, body: str = "", workdir: str | None = None) -> Path:
    """A config with one existing JSONL source, plus ``body`` (more YAML)."""
    source = tmp_path / "docs.jsonl"
    source.write_text('{"text": "one document"}\n')
    path = tmp_path / "run.yaml"
    path.write_text(f"workdir: {workdir or tmp_path / 'w'}\nsources:\n  - {{name: docs, paths: [{source}]}}\n{body}")
    return path


def test_curate_workdir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text("not a folder")
    err = _one_line_error(capsys, ["curate", str(_config(tmp_path, workdir=str(tmp_path / "taken")))])
    assert f"workdir {tmp_path / 'taken'} is a file" in err


def test_curate_workdir_under_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text("not a folder")
    err = _one_line_error(capsys, ["curate", str(_config(tmp_path, workdir=str(tmp_path / "taken" / "w")))])
    assert f"is under {tmp_path / 'taken'}, which is a file" in err


def test_curate_missing_source_fails_before_ray(tmp_path, capsys):
    import ray

    config = _config(tmp_path)
    (tmp_path / "docs.jsonl").unlink()
    was_running = ray.is_initialized()
    err = _one_line_error(capsys, ["curate", str(config)])
    assert "sources[0].paths" in err and "docs.jsonl" in err
    assert ray.is_initialized() == was_running


def test_validate_a_folder(tmp_path, capsys):
    err = _one_line_error(capsys, ["validate", str(tmp_path)])
    assert f"{tmp_path}: is a folder" in err


def test_config_that_is_not_utf8(tmp_path, capsys):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("workdir: w\n# caf\u00e9\n".encode("latin-1"))
    err = _one_line_error(capsys, ["validate", str(bad)])
    assert f"{bad}:2: not UTF-8 text (bad byte 0xe9)" in err


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_demo_data_into_a_file(tmp_path, capsys, where):
    target = tmp_path / "taken"
    target.write_text("x")
    err = _one_line_error(capsys, ["demo-data", str(target if where == "file" else target / "sub")])
    assert str(target) in err and "a file, not a folder" in err


def test_dedup_input_not_utf8(tmp_path, capsys):
    bad = tmp_path / "docs.jsonl"
    bad.write_bytes(b'{"id": 1, "text": "fine"}\n{"id": 2, "text": "caf\xe9"}\n')
    err = _one_line_error(capsys, ["dedup", "--input", str(bad), "--output", str(tmp_path / "out")])
    assert f"{bad}:2: not UTF-8" in err


def test_dedup_input_that_is_not_parquet(tmp_path, capsys):
    bad = tmp_path / "docs.parquet"
    bad.write_text("id,text\n1,hello\n")
    err = _one_line_error(capsys, ["dedup", "--input", str(bad), "--output", str(tmp_path / "out")])
    assert f"{bad}: not a readable Parquet file" in err


def test_dedup_output_that_is_a_file(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": 1, "text": "fine"}\n')
    out = tmp_path / "out"
    out.write_text("taken")
    err = _one_line_error(capsys, ["dedup", "--input", str(docs), "--output", str(out)])
    assert f"dedup --output {out} is a file" in err


def test_dedup_huge_num_perm_is_refused_before_allocating(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": 1, "text": "fine"}\n')
    err = _one_line_error(capsys, ["dedup", "--input", str(docs), "--output", str(tmp_path / "o"),
                                   "--num-perm", "1000000000000"])
    assert "num_perm must be in [2, 1024], got 1000000000000" in err


@pytest.mark.parametrize("body, key, words", [
    ("proxy:\n  model: {d_model: -64}\n", "proxy.model", "d_model must be at least 1, got -64"),
    ("optimize:\n  objective: {'metric/a': 0, 'metric/b': 0.0}\n", "optimize", "every weight is 0"),
    ("dedup: {num_perm: 1000000000000}\n", "dedup", "num_perm must be in [2, 1024]"),
])
def test_validate_rejects_bad_values_naming_the_key(tmp_path, capsys, body, key, words):
    config = _config(tmp_path, body)
    err = _one_line_error(capsys, ["validate", str(config)])
    assert f"{config}: {key}: " in err and words in err


def test_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        shard = write_parquet(tmp_path / "kind" / "unit.parquet", pa.table({"x": [1]}))
        page = atomic_write_text(tmp_path / "report" / "index.html", "<html></html>")
        os.umask(0o077)
        private = atomic_write_text(tmp_path / "private.txt", "secret")
    finally:
        os.umask(old)
    assert stat.S_IMODE(shard.stat().st_mode) == 0o644
    assert stat.S_IMODE(page.stat().st_mode) == 0o644
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.rglob(".*.tmp")]
