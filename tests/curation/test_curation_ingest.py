"""Ingest: formats, globs, quarantine reasons, and errors raised before any work starts."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curation.config import CurationConfig, SourceConfig
from curation.ingest import Ingest, plan_units, resolve_paths
from dataplane.errors import InputError

ROWS = [{"id": "a", "text": "first document"}, {"id": "b", "text": "second document"}]


def _jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _read(source: SourceConfig, max_doc_bytes: int = 1_000_000) -> dict[str, pa.Table]:
    units = plan_units((source,), CurationConfig(max_doc_bytes=max_doc_bytes))
    step = Ingest(CurationConfig(max_doc_bytes=max_doc_bytes), {source.name: source})
    parts = [step(u.paths_table()) for u in units]
    return {k: pa.concat_tables([p[k] for p in parts]) for k in ("docs", "quarantine")}


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_jsonl_plain_gz_zst_read_the_same_documents(tmp_path, suffix):
    data = _jsonl(ROWS)
    if suffix.endswith(".gz"):
        data = gzip.compress(data)
    elif suffix.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    (tmp_path / f"d{suffix}").write_bytes(data)
    out = _read(SourceConfig(name="s", paths=(str(tmp_path / f"d{suffix}"),)))
    assert out["docs"].column("text").to_pylist() == ["first document", "second document"]
    assert out["docs"].column("id").to_pylist() == ["a", "b"]
    assert out["quarantine"].num_rows == 0


def test_parquet_text_folder_glob_and_extra_fields(tmp_path):
    pq.write_table(pa.table({"q": ["What is 2+2?"], "a": ["4"]}), tmp_path / "p.parquet")
    parquet = _read(SourceConfig(name="p", paths=(str(tmp_path / "*.parquet"),), format="parquet",
                                 text_field="q", extra_text_fields=("a",), id_field=None))
    assert parquet["docs"].column("text").to_pylist() == ["What is 2+2?\n4"]
    assert parquet["docs"].column("id").to_pylist() == [f"{tmp_path / 'p.parquet'}:1"]
    folder = tmp_path / "code"
    folder.mkdir()
    for i in range(3):
        (folder / f"m{i}.py").write_text(f"x = {i}\n")
    text = _read(SourceConfig(name="c", paths=(str(folder),), format="text", domain="code"))
    assert sorted(text["docs"].column("id").to_pylist()) == ["m0.py", "m1.py", "m2.py"]
    assert set(text["docs"].column("domain").to_pylist()) == {"code"}


def test_bad_lines_are_quarantined_with_file_line_and_reason(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"id": 1, "text": "fine"}).encode(),
        b'{"id": 2, "text": "unterminated',
        json.dumps({"id": 3, "body": "no text field"}).encode(),
        json.dumps({"id": 4, "text": 42}).encode(),
        b'{"id": 5, "text": "bad \xff byte"}',
        json.dumps({"id": 6, "text": "   \n\t "}).encode(),
        json.dumps({"id": 7, "text": "x" * 200}).encode(),
        b"[1, 2, 3]",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = _read(SourceConfig(name="s", paths=(str(path),)), max_doc_bytes=100)
    assert out["docs"].column("id").to_pylist() == ["1"]
    q = out["quarantine"].to_pylist()
    reasons = {row["line"]: row["reason"].split(":")[0].split(" ")[0] for row in q}
    assert reasons == {2: "malformed_json", 3: "missing_text", 4: "non_string_text", 5: "invalid_utf8",
                       6: "empty", 7: "too_large", 8: "malformed_json"}
    assert {row["path"] for row in q} == {str(path.resolve())}
    assert all(row["source"] == "s" for row in q)


def test_missing_file_empty_source_and_unmatched_glob_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="'gone'.*file not found"):
        resolve_paths(SourceConfig(name="gone", paths=(str(tmp_path / "nope.jsonl"),)))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(InputError, match="'hollow' is empty"):
        resolve_paths(SourceConfig(name="hollow", paths=(str(tmp_path / "empty.jsonl"),)))
    with pytest.raises(InputError, match="no file matches"):
        resolve_paths(SourceConfig(name="g", paths=(str(tmp_path / "*.parquet"),)))


def test_text_folders_are_split_into_units_of_files(tmp_path):
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text("doc")
    units = plan_units((SourceConfig(name="t", paths=(str(tmp_path),), format="text"),),
                       CurationConfig(text_files_per_unit=2))
    assert [len(u.paths) for u in units] == [2, 2, 1]
    assert len({u.name for u in units}) == 3
