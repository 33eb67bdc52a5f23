"""``automixer sql`` reads the catalog and the workdir's shards, and nothing else: every attack of issue 27 fails
with a one-line error (exit 2) and leaves the files as they were."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import duckdb
import pyarrow as pa
import pytest

from automixer import cli
from automixer.catalog import Catalog, ledger_from_docs, ledger_rows
from dataplane import schema
from dataplane.store import StageStore, write_parquet

ATTACKS = {  # name -> (query template, what the one-line error says)
    "copy to any path": ("COPY (SELECT 'x' AS x) TO '{outside}'", "COPY"),
    "copy over a shard": ("COPY (SELECT 1 AS doc_id) TO '{shard}' (FORMAT parquet)", "COPY"),
    "attach read_write and drop": ("ATTACH '{other_db}' AS x (READ_WRITE); DROP TABLE x.t", "ATTACH"),
    "read_text outside": ("SELECT * FROM read_text('/etc/passwd')", "Cannot access file"),
    "glob outside": ("SELECT * FROM glob('/root/*')", "Cannot access file"),
    "glob of the workdir": ("SELECT * FROM glob('{workdir}/*')", "Cannot access file"),
    "a workdir file that is not a shard": ("SELECT * FROM read_text('{workdir}/curate/_manifest.json')",
                                           "Cannot access file"),
    "copy hidden in query()": ("SELECT * FROM query('COPY (SELECT 1) TO ''{outside}''')", "query failed"),
    "re-enable file access": ("SET enable_external_access = true", "SET"),
    "export the catalog": ("EXPORT DATABASE '{outside}.d'", "EXPORT"),
    "write to the catalog": ("DROP TABLE ledger", "DROP"),
    "load an extension": ("LOAD json", "LOAD"),
}


def _docs(n: int, source: str) -> pa.Table:
    return schema.conform(pa.table({"text": [f"{source} document {i}" for i in range(n)], "source": [source] * n,
                                    "domain": [source] * n, "bucket": pa.array([i % 2 for i in range(n)], pa.int32())}))


@pytest.fixture
def workdir(tmp_path):
    """A workdir whose catalog has a ledger and a ``curate_kept`` view over two finished shards."""
    work = tmp_path / "work"
    store = StageStore(work, "curate")
    records = []
    for source, n in (("web", 5), ("code", 3)):
        table = _docs(n, source)
        path = write_parquet(store.shard_path("kept", source), table)
        store.mark_done(source, {"kept": [path]})
        records += ledger_from_docs(table, "kept")
    with Catalog(work) as catalog:
        catalog.register_stage(store)
        catalog.replace_ledger("curate", ledger_rows(records, "curate"))
    return work


def _snapshot(*paths) -> dict:
    """path -> sha256 of every file at or under the paths (what must not change)."""
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*"))) if f.is_file()]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _sql(workdir, query, capsys) -> tuple[int, str, str]:
    code = cli.main(["sql", "-w", str(workdir), query])
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[2:]]


def test_normal_queries_read_the_ledger_and_the_shard_views(workdir, capsys):
    code, out, _ = _sql(workdir, "SELECT source, sum(docs) AS docs FROM ledger GROUP BY source ORDER BY source", capsys)
    assert code == 0 and _rows(out) == [["code", "3"], ["web", "5"]]
    code, out, _ = _sql(workdir, "SELECT count(*) AS n FROM curate_kept; DESCRIBE curate_kept", capsys)
    assert code == 0 and _rows(out)[0] == ["8"] and "quality_score" in out
    shard = workdir / "curate" / "kept" / "code.parquet"
    code, out, _ = _sql(workdir, f"SELECT count(*) AS n FROM read_parquet('{shard}')", capsys)
    assert code == 0 and _rows(out) == [["3"]]


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_every_attack_fails_in_one_line_and_changes_no_file(attack, workdir, tmp_path, capsys):
    other_db = tmp_path / "other.duckdb"
    with duckdb.connect(str(other_db)) as con:
        con.execute("CREATE TABLE t AS SELECT 42 AS x")
    outside = tmp_path / "outside" / "pwn.csv"
    outside.parent.mkdir()
    before = _snapshot(workdir, outside.parent, other_db)
    template, expected = ATTACKS[attack]
    query = template.format(outside=outside, shard=workdir / "curate" / "kept" / "web.parquet", other_db=other_db,
                            workdir=workdir)
    code, out, err = _sql(workdir, query, capsys)
    assert code == 2 and out == ""
    assert err.startswith("automixer sql: error:") and err.count("\n") == 1 and expected in err, err
    assert _snapshot(workdir, outside.parent, other_db) == before
    with duckdb.connect(str(other_db), read_only=True) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(42,)]
    code, out, _ = _sql(workdir, "SELECT count(*) AS n FROM curate_kept", capsys)
    assert code == 0 and _rows(out) == [["8"]]


@pytest.mark.parametrize("query", ["", "   ;  ", "-- only a comment"])
def test_an_empty_query_is_a_clear_error(query, workdir, capsys):
    code, out, err = _sql(workdir, query, capsys)
    assert code == 2 and out == "" and "no SQL statement given" in err and err.count("\n") == 1


def test_a_syntax_error_is_one_line(workdir, capsys):
    code, out, err = _sql(workdir, "SELEC 1", capsys)
    assert code == 2 and err.startswith("automixer sql: error: query failed:") and err.count("\n") == 1


def test_a_copied_workdir_does_not_read_the_original_shards(workdir, tmp_path, capsys):
    """Views name shards by absolute path: in a copy they point at the original workdir, outside the copy."""
    copy = shutil.copytree(workdir, tmp_path / "copy")
    assert _sql(copy, "SELECT count(*) AS n FROM ledger", capsys)[0] == 0
    code, out, err = _sql(copy, "SELECT count(*) AS n FROM curate_kept", capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert str(workdir / "curate" / "kept") in err and "moved or been copied" in err


@pytest.mark.parametrize("command", ["sql", "stats"])
def test_a_catalog_that_is_not_a_duckdb_file(command, tmp_path, capsys):
    (tmp_path / "catalog.duckdb").write_text("not a database\n")
    code = cli.main([command, "-w", str(tmp_path)] + (["SELECT 1"] if command == "sql" else []))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"{tmp_path / 'catalog.duckdb'}: cannot open the catalog" in err


def test_a_catalog_another_process_is_writing(workdir, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
                               "print('locked', flush=True); sys.stdin.read()", str(workdir / "catalog.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, out, err = _sql(workdir, "SELECT 1", capsys)
    finally:
        holder.communicate("")
    assert code == 2 and err.count("\n") == 1 and "another automixer command is writing it" in err
