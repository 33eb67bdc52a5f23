"""DuckDB catalog: views over finished shards, idempotent ledgers, stats, read-only queries."""

import duckdb
import pyarrow as pa
import pytest

from automixer.catalog import Catalog, ledger_from_docs, ledger_rows, stats_query
from dataplane import schema
from dataplane.errors import AutomixerError
from dataplane.store import StageStore, write_parquet


def make_stage(tmp_path):
    store = StageStore(tmp_path, "curate")
    table = schema.conform(pa.table({
        "text": ["a b c", "d e", "f"], "source": ["web", "web", "code"], "domain": ["web", "web", "code"],
        "bucket": pa.array([0, 1, 0], pa.int32()), "n_tokens": [3, 2, 1]}))
    path = write_parquet(store.shard_path("kept", "u1"), table)
    store.mark_done("u1", {"kept": [path]})
    return store, table


def test_views_read_shards_without_copying_text(tmp_path):
    store, table = make_stage(tmp_path)
    with Catalog(tmp_path) as cat:
        assert cat.register_stage(store) == ["curate_kept"]
        assert cat.query("SELECT count(*) AS n FROM curate_kept")["n"][0].as_py() == 3
        kinds = cat.query("SELECT table_type FROM information_schema.tables WHERE table_name='curate_kept'")
        assert kinds["table_type"][0].as_py() == "VIEW"


def test_ledger_replace_is_idempotent(tmp_path):
    _, table = make_stage(tmp_path)
    rows = ledger_rows(
        ledger_from_docs(table, "kept") + [{"source": "web", "outcome": "in", "docs": 2, "tokens": 5}], "curate"
    )
    with Catalog(tmp_path) as cat:
        cat.replace_ledger("curate", rows)
        cat.replace_ledger("curate", rows)  # a resumed run must not double count
        total = cat.query("SELECT sum(docs) AS n FROM ledger WHERE outcome='kept'")["n"][0].as_py()
    assert total == 3


def test_stats_query_pivots_outcomes(tmp_path):
    _, table = make_stage(tmp_path)
    with Catalog(tmp_path) as cat:
        cat.replace_ledger("curate", ledger_rows(ledger_from_docs(table, "kept"), "curate"))
        sql, params = stats_query(["source"])
        out = cat.query(sql, params).to_pylist()
    assert {r["source"]: r["kept"] for r in out} == {"code": 1, "web": 2}


def test_stats_rejects_unknown_key():
    with pytest.raises(AutomixerError, match="unknown --by key 'colour'"):
        stats_query(["colour"])


def test_read_only_catalog_refuses_writes(tmp_path):
    make_stage(tmp_path)
    Catalog(tmp_path).close()
    with Catalog(tmp_path, read_only=True) as cat:
        with pytest.raises(duckdb.Error):
            cat.query("CREATE TABLE t AS SELECT 1")


def test_missing_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(AutomixerError, match="no catalog"):
        Catalog(tmp_path / "none", read_only=True)
