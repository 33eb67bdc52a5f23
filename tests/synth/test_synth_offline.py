"""Offline strategies, feature extraction, output checks and the strategy registry (no Ray, no network)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from synth_testdata import CODE, PROSE, make_config

from dataplane.errors import ConfigError
from dataplane.schema import DOC_SCHEMA, doc_id_for
from synth.checks import check_output
from synth.config import SynthConfig
from synth.features import FeatureExtractor, extract_features, make_bundles
from synth.stage import TASK_SCHEMA, SynthStage, split_outcomes
from synth.strategies import STRATEGIES

SEED_STRATEGIES = [s for s in STRATEGIES.values() if s.kind == "seed"]
PIPELINE_STRATEGIES = [s for s in STRATEGIES.values() if s.kind == "pipeline"]


def seed_tasks(seeds: pa.Table, strategy: str) -> pa.Table:
    rows = [{"task_id": doc_id_for(strategy + d["doc_id"]), "strategy": strategy, "parent_id": d["doc_id"],
             "source": d["source"], "domain": d["domain"], "bucket": d["bucket"],
             "quality_score": d["quality_score"], "payload": d["text"]} for d in seeds.to_pylist()]
    return pa.Table.from_pylist(rows, schema=TASK_SCHEMA)


def bundle_tasks(seeds: pa.Table, strategy: str) -> pa.Table:
    bundles = make_bundles(FeatureExtractor()(seeds), strategy, per=3, max_outputs=10, seed=0)
    for b in bundles:
        b["task_id"] = doc_id_for(b["parent_id"])
    return pa.Table.from_pylist(bundles, schema=TASK_SCHEMA)


@pytest.mark.parametrize("strategy", [s.name for s in SEED_STRATEGIES])
def test_seed_strategy_is_deterministic_and_every_seed_has_one_outcome(seeds, strategy):
    tasks = seed_tasks(seeds, strategy)
    first, second = SynthStage(SynthConfig())(tasks), SynthStage(SynthConfig())(tasks)
    assert first.equals(second)
    assert first.num_rows == tasks.num_rows
    assert first.column("parent_id").to_pylist() == tasks.column("parent_id").to_pylist()
    kinds = split_outcomes(first)
    assert kinds["docs"].schema == DOC_SCHEMA and kinds["rejected"].schema == DOC_SCHEMA
    assert kinds["docs"].num_rows + kinds["rejected"].num_rows == tasks.num_rows
    assert all(kinds["rejected"].column("reason").to_pylist())


@pytest.mark.parametrize("strategy", ["qa", "list", "dialogue", "distill"])
def test_offline_rewrites_of_prose_pass_the_checks(seeds, strategy):
    prose = seeds.filter(pa.compute.not_equal(seeds.column("source"), "code"))
    docs = split_outcomes(SynthStage(SynthConfig())(seed_tasks(prose, strategy)))["docs"]
    assert docs.num_rows == prose.num_rows


def test_offline_docs_carry_honest_provenance(seeds):
    docs = split_outcomes(SynthStage(SynthConfig())(seed_tasks(seeds, "qa")))["docs"].to_pylist()
    seed_by_id = {d["doc_id"]: d for d in seeds.to_pylist()}
    for doc in docs:
        seed = seed_by_id[doc["parent_id"]]
        assert doc["synthetic"] and doc["synth_strategy"] == "qa"
        assert doc["synth_backend"] == "offline" and doc["synth_model"] == "rules-v1"
        assert doc["synth_prompt_hash"] and doc["doc_id"] == doc_id_for(doc["text"])
        assert (doc["source"], doc["domain"], doc["bucket"]) == (seed["source"], seed["domain"], seed["bucket"])
        assert doc["quality_score"] == seed["quality_score"] and doc["n_tokens"] > 0
    assert "Q: " in docs[0]["text"] and "A: " in docs[0]["text"]


def test_wiki_of_a_clean_seed_is_rejected_as_a_copy(seeds):
    out = SynthStage(SynthConfig())(seed_tasks(seeds.slice(0, 1), "wiki"))
    assert out.column("reason").to_pylist() == ["copy"]


def test_features_cover_definitions_numbers_entities_and_code():
    kinds = {k for k, _, _ in extract_features(PROSE[7][2], "wiki")}
    assert {"definition", "number", "fact", "entity"} <= kinds
    code = extract_features(CODE, "code")
    assert ("code_signature", "clamp(x, low, high)", "Limit x to the closed interval from low to high.") in code
    equations = extract_features("We know that 2 x + 3 = 11 gives the value of x as 4 in this example.", "math")
    assert any(k == "equation" for k, _, _ in equations)


@pytest.mark.parametrize("strategy", [s.name for s in PIPELINE_STRATEGIES])
def test_pipeline_strategy_recomposes_features_of_several_documents(seeds, strategy):
    tasks = bundle_tasks(seeds, strategy)
    out = SynthStage(SynthConfig())(tasks)
    docs = split_outcomes(out)["docs"].to_pylist()
    assert docs, out.column("reason").to_pylist()
    for doc, task in zip(docs, tasks.to_pylist()):
        features = json.loads(task["payload"])
        assert doc["parent_id"] == ",".join(f["feature_id"] for f in features)
        assert len({f["doc_id"] for f in features}) >= 2 or doc["source"] == "code"
    assert SynthStage(SynthConfig())(tasks).equals(out)


@pytest.mark.parametrize(
    "answer, seed, reason",
    [
        ("", None, "empty"),
        ("   ", None, "empty"),
        ("I'm sorry, but I can't help with that request, it is against my guidelines.", None, "refusal"),
        ("As an AI language model, I cannot rewrite this text for you today at all.", None, "refusal"),
        ("Too short.", None, "too_short"),
        ("x" * 300, None, "too_long"),
        (PROSE[0][2], PROSE[0][2], "copy"),
        ("Here is the text: " + PROSE[0][2], PROSE[0][2], "copy"),
        (
            "Q: What is a prime number?\nA: A natural number above one whose only divisors are one and itself.",
            PROSE[0][2],
            None,
        ),
    ],
)
def test_output_checks_give_one_reason(answer, seed, reason):
    assert (
        check_output(answer, seed, min_chars=20, max_chars=250 if seed is None else 5000, copy_threshold=0.8) == reason
    )


def test_copy_check_can_be_disabled():
    assert check_output(PROSE[0][2], PROSE[0][2], min_chars=1, max_chars=10**6, copy_threshold=-1) is None


def test_unknown_strategy_is_a_config_error_listing_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"synth\.policy\[0\].*unknown strategy 'poems'.*qa, list"):
        make_config(tmp_path, {"policy": [{"strategy": "poems"}]})


def test_template_without_placeholder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"synth\.openai.*templates\.qa must contain"):
        make_config(tmp_path, {"openai": {"templates": {"qa": "Ask questions."}}})
