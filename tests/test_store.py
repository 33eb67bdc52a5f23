"""Shard store: atomic writes, manifests, resumability."""

import pyarrow as pa
import pytest

from dataplane import schema
from dataplane.store import StageStore, atomic_write_text, write_parquet


def docs(texts, source="s"):
    return schema.conform(pa.table({"text": texts, "source": [source] * len(texts), "domain": ["web"] * len(texts)}))


def test_conform_fills_ids_bytes_and_defaults():
    table = docs(["héllo world", "b"])
    assert table.schema == schema.DOC_SCHEMA
    assert table["doc_id"][0].as_py() == schema.doc_id_for("héllo world")
    assert table["n_bytes"].to_pylist() == [12, 1]
    assert table["synthetic"].to_pylist() == [False, False]
    assert table["bucket"].null_count == 2


def test_doc_id_is_stable_content_hash():
    assert schema.doc_id_for("abc") == schema.doc_id_for("abc") != schema.doc_id_for("abd")
    assert len(schema.doc_id_for("abc")) == 16


def test_only_finished_units_are_read(tmp_path):
    store = StageStore(tmp_path, "curate")
    done = write_parquet(store.shard_path("kept", "a"), docs(["one", "two"]))
    store.mark_done("a", {"kept": [done]}, {"in": 2})
    # a second unit wrote its shard but crashed before mark_done: it must not be read
    write_parquet(store.shard_path("kept", "b"), docs(["three"]))
    assert store.is_done("a") and not store.is_done("b")
    assert store.read("kept").num_rows == 2
    assert store.done_units()["a"]["counts"] == {"in": 2}


def test_failed_write_leaves_no_file(tmp_path):
    target = tmp_path / "x.parquet"
    with pytest.raises(Exception):
        write_parquet(target, "not a table")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    path = atomic_write_text(tmp_path / "m.json", "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_reset_forgets_stage(tmp_path):
    store = StageStore(tmp_path, "dedup")
    path = write_parquet(store.shard_path("kept", "u"), docs(["x"]))
    store.mark_done("u", {"kept": [path]})
    store.reset()
    assert store.done_units() == {} and not path.exists()


def test_component_names():
    assert schema.component_name("web", 0) == "web.q0"
    assert schema.component_name("web", 2, "qa") == "synth.qa"
