"""run_dedup on Ray over a small curated workdir; the bare-file CLI contract."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dedup_testdata import doc_table, make_doc, near_copy

from automixer.catalog import Catalog
from automixer.cli import main
from automixer.config import config_from_dict
from dataplane.errors import StageError
from dataplane.schema import conform
from dataplane.store import StageStore, write_parquet
from dedup.config import DedupConfig
from dedup.local import dedup_table


def curated_workdir(tmp_path):
    """Two curate shards (two sources) with exact and near duplicates inside and across shards."""
    docs = [make_doc(i) for i in range(12)]
    shard_a = doc_table(docs[:6] + [docs[0]], sources="alpha", buckets=[0, 0, 1, 1, 2, 2, 2],
                        scores=[0.9, 0.8, 0.5, 0.5, 0.2, 0.1, 0.3])
    shard_b = doc_table(docs[6:] + [near_copy(docs[1], 1), near_copy(docs[8], 1), ""], sources="beta",
                        buckets=[0, 1, 2, 0, 1, 2, 1, 0, 2], scores=[0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.95, 0.05, 0.0])
    store = StageStore(tmp_path, "curate")
    files = {}
    for name, table in (("alpha_0", shard_a), ("beta_0", shard_b)):
        path = store.shard_path("kept", name)
        write_parquet(path, conform(table))
        files[name] = path
    store.mark_many_done({n: ({"kept": [p]}, {}) for n, p in files.items()})
    return pa.concat_tables([conform(shard_a), conform(shard_b)])


def test_run_dedup_writes_shards_ledger_report_plot_and_resumes(tmp_path, ray_local, capsys):
    from automixer.flows.dedup import run_dedup

    all_docs = curated_workdir(tmp_path)
    config = config_from_dict({"workdir": str(tmp_path), "dedup": {"threshold": 0.8}})
    summary = run_dedup(config)
    assert "1 exact + 2 near" in summary, summary
    dedup = StageStore(tmp_path, "dedup")
    kept, dups = dedup.read("kept"), dedup.read("duplicates")
    assert kept.num_rows + dups.num_rows == all_docs.num_rows
    assert kept.schema == dups.schema == conform(all_docs).schema
    assert all(kept.column("dup_kept").to_pylist()) and not any(dups.column("dup_kept").to_pylist())
    assert kept.column("dup_cluster").to_pylist() == kept.column("doc_id").to_pylist()
    assert set(dups.column("dup_cluster").to_pylist()) <= set(kept.column("doc_id").to_pylist())
    # near copy of docs[1] (score 0.95, source beta) beats the original (0.8, alpha): keeper by quality
    near = [r for r in dups.to_pylist() if r["reason"] == "near"]
    assert {r["source"] for r in near} == {"alpha", "beta"}

    local = dedup_table(all_docs, DedupConfig(threshold=0.8))
    assert sorted(dups.column("doc_id").to_pylist()) == sorted(
        d for d, k in zip(local.column("doc_id").to_pylist(), local.column("dup_kept").to_pylist()) if not k)

    with Catalog(tmp_path, read_only=True) as cat:
        check = cat.query("""SELECT source, bucket,
            sum(docs) FILTER (WHERE outcome = 'in') AS n_in,
            coalesce(sum(docs) FILTER (WHERE outcome IN ('kept', 'duplicate')), 0) AS n_out
            FROM ledger WHERE stage = 'dedup' GROUP BY ALL""").to_pylist()
        assert check and all(r["n_in"] == r["n_out"] for r in check)
        reasons = cat.query("SELECT DISTINCT reason FROM ledger WHERE outcome = 'duplicate'").column(0).to_pylist()
        assert sorted(reasons) == ["exact", "near"]
        report = cat.query("SELECT * FROM dedup_report").to_pylist()
        assert sum(r["exact"] + r["near"] for r in report) == 3
        assert cat.query("SELECT count(*) FROM dedup_duplicates").column(0)[0].as_py() == 3
    assert (tmp_path / "plots" / "dedup_removal.png").stat().st_size > 1000
    assert "removed" in capsys.readouterr().out

    mtimes = {p: p.stat().st_mtime_ns for p in dedup.files("kept") + dedup.files("duplicates")}
    again = run_dedup(config)
    assert "nothing redone" in again
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_changed_inputs_or_config_discard_earlier_dedup_outputs(tmp_path):
    from automixer.flows.dedup import _check_plan, _plan

    curated_workdir(tmp_path)
    inputs = StageStore(tmp_path, "curate").files("kept")
    store = StageStore(tmp_path, "dedup")
    _, fingerprint = _plan(inputs, DedupConfig())
    _check_plan(store, fingerprint)
    store.mark_done("clusters", {}, {})
    _check_plan(store, _plan(inputs, DedupConfig())[1])
    assert store.is_done("clusters")
    _check_plan(store, _plan(inputs, DedupConfig(scope="source"))[1])
    assert not store.is_done("clusters") and store.is_done("_plan")


def test_run_dedup_without_curate_raises_a_stage_error(tmp_path):
    from automixer.flows.dedup import run_dedup

    with pytest.raises(StageError, match="automixer curate"):
        run_dedup(config_from_dict({"workdir": str(tmp_path)}))


def test_cli_dedup_on_a_bare_jsonl_file(tmp_path, capsys):
    base = make_doc(1)
    rows = [{"id": 1, "text": base}, {"id": "b", "text": near_copy(base, 1)}, {"id": "c", "text": base + "!"},
            {"id": "d", "text": make_doc(2)}, {"id": "e", "text": ""}]
    src = tmp_path / "docs.jsonl.gz"
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    out_dir = tmp_path / "out"
    assert main(["dedup", "--input", str(src), "--output", str(out_dir), "--threshold", "0.8",
                 "--num-perm", "64", "--ngram", "5"]) == 0
    assert "1 exact + 1 near" in capsys.readouterr().out
    out = pq.read_table(next(out_dir.glob("*.parquet"))).to_pylist()
    assert [r["id"] for r in out] == ["1", "b", "c", "d", "e"]
    keeper = min(out[:3], key=lambda r: r["doc_id"])  # no quality scores: smallest doc_id wins
    assert [r["dup_kept"] for r in out[:3]] == [r is keeper for r in out[:3]]
    assert {r["dup_cluster"] for r in out[:3]} == {keeper["doc_id"]}
    assert [r["dup_kept"] for r in out[3:]] == [True, True] and out[3]["dup_cluster"] == out[3]["doc_id"]


def test_cli_dedup_on_a_bare_parquet_file_and_bad_inputs(tmp_path, capsys):
    src = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["x", "y"], "text": [make_doc(3), make_doc(3)]}), src)
    assert main(["dedup", "--input", str(src), "--output", str(tmp_path / "o")]) == 0
    assert pq.read_table(tmp_path / "o" / "dedup.parquet").column("dup_kept").to_pylist() == [True, False]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "fine"}\n{"id": 2}\n')
    assert main(["dedup", "--input", str(bad), "--output", str(tmp_path / "o2")]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main(["dedup", "--input", str(src), "--output", str(tmp_path / "o3"), "--threshold", "1.5"]) == 2
    assert "threshold" in capsys.readouterr().err
