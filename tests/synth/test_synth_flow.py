"""run_synth end to end on a tiny workdir: seeds from curate/dedup shards, Ray, shards, ledger, catalog."""

from __future__ import annotations

import json
import re

import pyarrow.compute as pc
import pytest
from synth_testdata import FAST_OPENAI, PROSE, make_config, seed_table, write_stage

from automixer.catalog import Catalog
from automixer.flows.synth import run_synth
from dataplane.errors import StageError
from dataplane.store import StageStore

POLICY = [
    {"strategy": "qa", "sources": ["web", "wiki"], "max_docs": 6},
    {"strategy": "list", "sources": ["wiki"], "buckets": [0]},
    {"strategy": "knowledge_list", "max_docs": 3},
    {"strategy": "exercises", "max_docs": 3},
    {"strategy": "summary", "max_docs": 2},
]


def ledger(workdir) -> dict:
    with Catalog(workdir, read_only=True) as catalog:
        rows = catalog.query(
            "SELECT outcome, sum(docs) AS n FROM ledger WHERE stage = 'synth' GROUP BY ALL"
        ).to_pylist()
    return {r["outcome"]: r["n"] for r in rows}


def test_offline_flow_writes_docs_ledger_and_catalog_then_resumes(tmp_path, seeds, ray_local):
    write_stage(tmp_path, "curate", seeds)
    config = make_config(tmp_path, {"policy": POLICY, "rows_per_block": 4, "docs_per_summary": 2})
    summary = run_synth(config)
    store = StageStore(tmp_path, "synth")
    docs, rejected = store.read("docs"), store.read("rejected")
    assert docs.num_rows > 0 and summary.startswith(f"synth (offline): {docs.num_rows} synthetic docs")
    strategies = set(docs.column("synth_strategy").to_pylist())
    assert strategies == {"qa", "list", "knowledge_list", "exercises", "summary"}
    qa_parents = docs.filter(pc.equal(docs.column("synth_strategy"), "qa")).column("parent_id").to_pylist()
    assert set(qa_parents) <= set(seeds.column("doc_id").to_pylist()) and len(qa_parents) == 6
    counts = ledger(tmp_path)
    assert counts["synthetic"] == docs.num_rows and counts.get("rejected", 0) == (rejected.num_rows if rejected else 0)
    with Catalog(tmp_path, read_only=True) as catalog:
        tokens = catalog.query("SELECT sum(tokens) AS t, sum(docs) AS d FROM synth_tokens").to_pylist()[0]
        assert tokens == {"t": pc.sum(docs.column("n_tokens")).as_py(), "d": docs.num_rows}
        assert catalog.query("SELECT count(*) AS n FROM synth_docs").to_pylist()[0]["n"] == docs.num_rows
    again = run_synth(config)
    assert "units already done" in again and store.read("docs").equals(docs)


def test_selection_is_deterministic_by_seed(tmp_path, seeds, ray_local):
    from synth.seeds import select_seeds

    rule = make_config(tmp_path, {"policy": [{"strategy": "qa", "fraction": 0.5}]}).synth.policy[0]
    picks = [select_seeds(seeds, rule, 0, s) for s in (0, 0, 1)]
    assert picks[0] == picks[1] and len(picks[0]) == 5 and picks[0] != picks[2]


def write_tokenizer(path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # words and punctuation marks are tokens
    tokenizer.save(str(path))


def test_dedup_kept_is_preferred_and_the_workdir_tokenizer_counts_tokens(tmp_path, seeds, ray_local):
    write_stage(tmp_path, "curate", seeds)
    write_stage(tmp_path, "dedup", seeds.slice(0, 2))
    write_tokenizer(tmp_path / "tokenizer.json")
    run_synth(make_config(tmp_path, {"policy": [{"strategy": "distill"}]}))
    docs = StageStore(tmp_path, "synth").read("docs")
    assert sorted(docs.column("parent_id").to_pylist()) == sorted(seeds.slice(0, 2).column("doc_id").to_pylist())
    for doc in docs.to_pylist():
        assert doc["n_tokens"] == len(re.findall(r"\w+|[^\w\s]", doc["text"])) > len(doc["text"].split())


def test_interrupted_run_resumes_only_the_missing_units(tmp_path, seeds, ray_local):
    write_stage(tmp_path, "curate", seeds)
    config = make_config(tmp_path, {"policy": [{"strategy": "dialogue"}], "rows_per_block": 3})
    run_synth(config)
    store = StageStore(tmp_path, "synth")
    docs = store.read("docs").sort_by("doc_id")
    manifest = json.loads(store.manifest_path.read_text())
    del manifest["units"]["r00-dialogue-0001"]  # as if the run had stopped before this unit finished
    store.manifest_path.write_text(json.dumps(manifest))
    summary = run_synth(config)
    assert "2 units already done" in summary and store.read("docs").sort_by("doc_id").equals(docs)


def test_missing_seed_stages_is_a_clear_stage_error(tmp_path):
    with pytest.raises(StageError, match="run `automixer curate CONFIG`"):
        run_synth(make_config(tmp_path, {"policy": [{"strategy": "qa"}]}))


def test_openai_flow_every_seed_ends_as_doc_or_rejection_and_rerun_hits_cache(tmp_path, chat_server, ray_local):
    faults = [
        "[[faults:429,500]]",
        "[[faults:slow]]",
        "[[faults:malformed]]",
        "[[always:refuse]]",
        "[[always:copy]]",
        "",
        "[[faults:429]]",
        "",
    ]
    seeds = seed_table([(s, d, f"{mark} {t}") for mark, (s, d, t) in zip(faults, PROSE)])
    write_stage(tmp_path, "curate", seeds)
    openai = {**FAST_OPENAI, "base_url": chat_server.url}
    config = make_config(
        tmp_path,
        {
            "backend": "openai",
            "openai": openai,
            "rows_per_block": 3,
            "policy": [{"strategy": "qa"}, {"strategy": "summary", "max_docs": 2}],
        },
    )
    summary = run_synth(config)
    store = StageStore(tmp_path, "synth")
    docs, rejected = store.read("docs"), store.read("rejected")
    qa_docs = docs.filter(pc.equal(docs.column("synth_strategy"), "qa"))
    outcomes = qa_docs.column("parent_id").to_pylist() + rejected.column("parent_id").to_pylist()
    assert sorted(outcomes) == sorted(seeds.column("doc_id").to_pylist())
    assert sorted(rejected.column("reason").to_pylist()) == ["copy", "refusal"]
    assert set(docs.column("synth_backend").to_pylist()) == {"openai"}
    assert set(docs.column("synth_model").to_pylist()) == {"fake-model"}
    faults = sum(chat_server.counts[k] for k in ("429", "500", "slow", "malformed"))
    sent = chat_server.requests
    assert faults >= 5 and sent == 8 + 2 + faults  # qa seeds, summaries (their facts carry markers too), retries
    assert f"{sent} requests, {faults} retries, 0 cache hits" in summary
    again = run_synth(config, force=True)
    assert chat_server.requests == sent and "0 requests" in again and "10 cache hits" in again
    assert store.read("docs").sort_by("doc_id").equals(docs.sort_by("doc_id"))
    assert ledger(tmp_path) == {"synthetic": docs.num_rows, "rejected": 2}
