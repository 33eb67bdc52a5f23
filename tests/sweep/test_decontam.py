"""N-gram decontamination of evaluation sets against the training documents."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from tiny_workdir import tiny_config

from automixer.sweep.components import build_components, pool_shards
from automixer.sweep.decontam import contaminated, ngrams, shard_texts
from automixer.sweep.eval_sets import build_eval_sets
from dataplane.errors import InputError
from dataplane.store import write_parquet

QUESTION = ("Natalia sold clips to 48 of her friends in April and then she sold half as many clips in May "
            "how many clips did she sell")


def test_item_quoted_inside_a_longer_document_is_contaminated_despite_case_and_punctuation():
    doc = "Forum post. Someone asked: NATALIA sold clips, to 48 of her friends in April... and then she left."
    assert contaminated([QUESTION], [doc], 13) == {0}


def test_twelve_shared_words_are_not_a_thirteen_gram():
    doc = "natalia sold clips to 48 of her friends in april and then"  # the item's first 12 words
    assert len(ngrams(doc, 12)) == 1 and not ngrams(doc, 13)
    assert contaminated([QUESTION], [doc], 13) == set()
    assert contaminated([QUESTION], [doc], 12) == {0}


def test_only_the_items_with_a_shared_ngram_are_flagged_and_short_items_never():
    items = ["a completely different question about rivers and the morning light over the old quiet city",
             QUESTION, "too short to match"]
    docs = ["nothing in common here", "x " + QUESTION.upper() + " y", "too short to match"]
    assert contaminated(items, iter(docs), 13) == {1}


def test_shard_texts_streams_every_text_of_every_shard_in_order(tmp_path):
    shards = []
    for s in range(2):
        texts = [f"shard {s} doc {i}" for i in range(5)]
        shards.append(write_parquet(tmp_path / f"{s}.parquet", pa.table({"text": texts, "other": list(range(5))})))
    assert list(shard_texts(shards, batch_rows=2)) == [f"shard {s} doc {i}" for s in range(2) for i in range(5)]


def _add_quoting_item(eval_file: str, training_text: str) -> None:
    """Append a code eval item that embeds 13+ words of a training document between other words."""
    quoted = " ".join(training_text.split()[5:20])
    with open(eval_file, "a") as f:
        f.write(json.dumps({"text": "header words " + quoted + " trailer"}) + "\n")


def _first_training_text(config) -> str:
    return next(shard_texts(pool_shards(config.workdir_path)))


def test_eval_sets_drop_items_sharing_an_ngram_with_training_and_print_the_count(tiny, capsys):
    config, eval_files = tiny
    _add_quoting_item(eval_files["code"], _first_training_text(config))
    _, info, train_ids = build_components(config)
    sets = build_eval_sets(config, info, train_ids, pool_shards(config.workdir_path))
    out = capsys.readouterr().out
    code = next(s for s in sets if s.group == "code")
    # 8 items: 6 unrelated, 1 training doc (dropped by id), 1 quoting one (dropped by 13-gram)
    assert len(code.items) == 6
    assert "dropped 1 evaluation items that are also training documents" in out
    assert "13-gram decontamination dropped 1 of 7 items" in out


def test_decontamination_can_be_disabled(tiny, tmp_path):
    config, eval_files = tiny
    _add_quoting_item(eval_files["code"], _first_training_text(config))
    config = tiny_config(config.workdir_path, eval_files, decontam_ngram=0)
    _, info, train_ids = build_components(config)
    sets = build_eval_sets(config, info, train_ids, pool_shards(config.workdir_path))
    assert len(next(s for s in sets if s.group == "code").items) == 7


def test_a_set_left_empty_by_decontamination_is_an_error_naming_the_file(tiny, tmp_path):
    config, eval_files = tiny
    only = tmp_path / "only_quotes.jsonl"
    only.write_text("")
    _add_quoting_item(str(only), _first_training_text(config))
    config = tiny_config(config.workdir_path, {**eval_files, "code": str(only)})
    _, info, train_ids = build_components(config)
    with pytest.raises(InputError, match="only_quotes.jsonl: no evaluation items left"):
        build_eval_sets(config, info, train_ids, pool_shards(config.workdir_path))


def test_accuracy_false_scores_only_the_gold_continuation(tiny):
    config, eval_files = tiny
    sets_by = {}
    for accuracy in (True, False):
        math = {"group": "math", "path": eval_files["math"], "format": "choices", "text_field": "question",
                "accuracy": accuracy}
        cfg = tiny_config(config.workdir_path, eval_files, eval=[math])
        _, info, train_ids = build_components(cfg)
        sets_by[accuracy] = build_eval_sets(cfg, info, train_ids)[0]
    with_choices, gold_only = sets_by[True], sets_by[False]
    assert all(len(it.choices) == 3 for it in with_choices.items)
    assert all(not it.choices and it.label == -1 for it in gold_only.items)
    # the scored span is the same gold continuation either way
    assert [it.text for it in gold_only.items] == [it.text for it in with_choices.items]
