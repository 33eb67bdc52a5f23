"""End to end on real data from ../shared/corpora: accounting, classifier AUC, determinism, resume."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from automixer.catalog import Catalog
from automixer.config import config_from_dict
from automixer.flows.curate import run_curate
from dataplane.errors import InputError


def _corrupt_file(corpora: Path, folder: Path) -> Path:
    """30 real gsm8k problems with 5 broken lines mixed in."""
    with gzip.open(corpora / "gsm8k" / "gsm8k_test.jsonl.gz", "rb") as fh:
        good = [next(fh).rstrip(b"\n") for _ in range(30)]
    bad = [b'{"question": "cut off', b'{"answer": "no question"}', b'{"question": "bad \xfe byte", "answer": "1"}',
           b'{"question": "  ", "answer": " "}', b"not json at all"]
    path = folder / "broken.jsonl"
    path.write_bytes(b"\n".join(good[:10] + bad + good[10:]) + b"\n")
    return path


def _config(corpora: Path, tmp: Path, workdir: str, broken: Path):
    gsm = {"format": "jsonl", "domain": "math", "text_field": "question", "extra_text_fields": ["answer"],
           "id_field": None}
    return config_from_dict({
        "workdir": str(tmp / workdir), "seed": 5, "ray": {"num_cpus": 2},
        "sources": [
            {"name": "ewt", "paths": [str(corpora / "web_ud_ewt" / "*.jsonl.gz")], "domain": "web"},
            {"name": "news", "paths": [str(corpora / "web_news_articles")], "domain": "web", "reference": True},
            {"name": "gsm8k", "paths": [str(corpora / "gsm8k" / "gsm8k_test.jsonl.gz")], **gsm},
            {"name": "humaneval", "paths": [str(corpora / "humaneval" / "HumanEval.jsonl.gz")], "domain": "code",
             "text_field": "prompt", "extra_text_fields": ["canonical_solution"], "id_field": "task_id"},
            {"name": "broken", "paths": [str(broken)], **gsm},
        ],
        "curation": {"num_buckets": 3, "keep_fractions": [1.0, 1.0, 0.5],
                     "classifier": {"max_train_docs": 800, "hash_bits": 16},
                     "tokenizer": {"vocab_size": 1000, "sample_docs": 600}},
    })


@pytest.fixture(scope="module")
def curated(corpora, ray_local, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curate")
    broken = _corrupt_file(corpora, tmp)
    config = _config(corpora, tmp, "w1", broken)
    summary = run_curate(config)
    return config, summary, tmp, broken


def _per_source(catalog: Catalog, sql: str) -> dict:
    return {row["source"]: row["n"] for row in catalog.query(sql).to_pylist()}


def test_every_input_document_is_accounted_for_per_source(curated):
    config, summary, _, _ = curated
    with Catalog(config.workdir) as catalog:
        ledger = {(r["source"], r["outcome"]): r["n"] for r in catalog.query(
            "SELECT source, outcome, sum(docs) AS n FROM ledger WHERE stage = 'curate' GROUP BY ALL").to_pylist()}
        kept = _per_source(catalog, "SELECT source, count(*) AS n FROM curate_kept GROUP BY ALL")
        filtered = _per_source(catalog, "SELECT source, count(*) AS n FROM curate_filtered GROUP BY ALL")
        quarantined = _per_source(catalog, "SELECT source, count(*) AS n FROM curate_quarantine GROUP BY ALL")
        stats = catalog.query("SELECT * FROM curate_stats").to_pylist()
        by_rule = _per_source(catalog, "SELECT source, sum(docs) AS n FROM ledger WHERE stage = 'curate' "
                              "AND outcome = 'filtered' AND reason <> 'retention' GROUP BY ALL")
    expected_in = {"ewt": 1174, "news": 181, "gsm8k": 1319, "humaneval": 164, "broken": 35}
    for source, n_in in expected_in.items():
        assert ledger[(source, "in")] == n_in
        assert kept.get(source, 0) + filtered.get(source, 0) + quarantined.get(source, 0) == n_in, source
        assert ledger.get((source, "kept"), 0) == kept.get(source, 0)
        assert ledger.get((source, "filtered"), 0) == filtered.get(source, 0)
    assert quarantined == {"broken": 5}
    # code and math are judged by their own rule sets, so the rules drop few of them
    assert by_rule.get("humaneval", 0) < 10 and by_rule.get("gsm8k", 0) < 50, by_rule
    assert ledger[("ewt", "pii_masked")] > 0
    assert {r["source"] for r in stats} == set(kept) and all(r["tokens"] > 0 for r in stats)
    assert "1 quarantined" not in summary and "5 quarantined" in summary


def test_quarantine_rows_name_file_line_and_reason(curated):
    config, _, _, broken = curated
    with Catalog(config.workdir) as catalog:
        rows = catalog.query("SELECT path, line, reason FROM curate_quarantine ORDER BY line").to_pylist()
    assert [r["line"] for r in rows] == [11, 12, 13, 14, 15]
    assert {r["path"] for r in rows} == {str(broken.resolve())}
    assert [r["reason"].split(":")[0] for r in rows] == [
        "malformed_json", "missing_text", "invalid_utf8", "empty", "malformed_json"]


def test_classifier_auc_on_news_against_the_pool_is_high(curated):
    config, _, _, _ = curated
    meta = json.loads((Path(config.workdir) / "classifier" / "meta.json").read_text())
    assert meta["auc"]["linear"] > 0.9
    assert meta["n_pos"] > 150


def test_second_run_redoes_nothing(curated, capsys):
    config, _, _, _ = curated
    shards = sorted((Path(config.workdir) / "curate").rglob("*.parquet"))
    before = {p: p.stat().st_mtime_ns for p in shards}
    summary = run_curate(config)
    out = capsys.readouterr().out
    assert "prefilter: 0 of 5 units to do" in out and "finalize: 0 of 5 units to do" in out
    assert "(0 processed this run)" in summary
    assert {p: p.stat().st_mtime_ns for p in shards} == before


def test_same_seed_gives_the_same_shards(curated):
    config, _, tmp, broken = curated
    other = _config(Path(config.sources[0].paths[0]).parents[1], tmp, "w2", broken)
    run_curate(other)
    cols = ["doc_id", "bucket", "quality_score", "n_tokens"]
    for kind in ("kept", "filtered"):
        a = [pq.read_table(p, columns=cols) for p in sorted((Path(config.workdir) / "curate" / kind).glob("*"))]
        b = [pq.read_table(p, columns=cols) for p in sorted((Path(other.workdir) / "curate" / kind).glob("*"))]
        assert [t.to_pylist() for t in a] == [t.to_pylist() for t in b]
    shutil.rmtree(other.workdir)


def test_missing_input_fails_before_any_work(tmp_path, corpora):
    config = config_from_dict({"workdir": str(tmp_path / "w"),
                               "sources": [{"name": "ghost", "paths": [str(tmp_path / "missing.jsonl")]}]})
    with pytest.raises(InputError, match="'ghost'.*missing.jsonl"):
        run_curate(config)
    assert not (tmp_path / "w").exists()


def test_changed_filter_settings_redo_the_staged_units(curated, capsys):
    config, _, tmp, _ = curated
    from dataclasses import replace

    stricter = replace(config, curation=replace(config.curation, prose=replace(config.curation.prose, min_words=80)))
    shutil.copytree(config.workdir, tmp / "w3")
    run_curate(replace(stricter, workdir=str(tmp / "w3")))
    out = capsys.readouterr().out
    assert "prefilter: 5 of 5 units to do" in out and "finalize: 5 of 5 units to do" in out
    with Catalog(tmp / "w3") as catalog:
        short = catalog.query("SELECT sum(docs) AS n FROM ledger WHERE reason = 'short_doc'").to_pylist()[0]["n"]
    with Catalog(config.workdir) as catalog:
        before = catalog.query("SELECT sum(docs) AS n FROM ledger WHERE reason = 'short_doc'").to_pylist()[0]["n"]
    assert short > before
    shutil.rmtree(tmp / "w3")
