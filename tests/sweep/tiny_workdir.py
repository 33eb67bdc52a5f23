"""A tiny workdir for sweep tests: curate and synth shards, a tokenizer, evaluation files, a config."""

from __future__ import annotations

import json
import random

import pyarrow as pa

from automixer.config import config_from_dict
from dataplane.schema import conform
from dataplane.store import StageStore, write_parquet

_WORDS = {
    "code": "def return class import self lambda for in if else print value list dict".split(),
    "math": "add sum equals plus minus times divide number total answer solve x y".split(),
    "prose": "the river city morning light walked slowly quiet story old house garden".split(),
}


def _doc(rng: random.Random, domain: str, n_words: int = 40) -> str:
    return " ".join(rng.choice(_WORDS[domain]) for _ in range(n_words)) + "."


def _write(store: StageStore, unit: str, kind: str, rows: list[dict]) -> None:
    path = write_parquet(store.shard_path(kind, unit), conform(pa.Table.from_pylist(rows)))
    store.mark_done(unit, {kind: [path]}, {"docs": len(rows)})


def build_tiny_workdir(workdir, seed: int = 0) -> dict:
    """Curate kept shards (3 sources, 2 buckets), synth qa docs, tokenizer.json, eval files."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    rng = random.Random(seed)
    curate = StageStore(workdir, "curate")
    texts = []
    for source in _WORDS:
        rows = [{"source": source, "domain": source, "text": _doc(rng, source), "bucket": i % 2} for i in range(24)]
        texts += [r["text"] for r in rows]
        _write(curate, source, "kept", rows)
    synth = [{"source": "prose", "domain": "prose", "text": f"Q: {_doc(rng, 'prose', 20)} A: {_doc(rng, 'math', 10)}",
              "synthetic": True, "synth_strategy": "qa", "bucket": 0} for _ in range(10)]
    _write(StageStore(workdir, "synth"), "qa", "docs", synth)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(str(workdir / "tokenizer.json"))

    eval_dir = workdir.parent / "eval"
    eval_dir.mkdir(exist_ok=True)
    code = [{"text": _doc(rng, "code")} for _ in range(6)] + [{"text": texts[0]}]  # the last one is a training doc
    math = []
    for _ in range(6):
        choices = [" " + _doc(rng, d, 5) for d in ("prose", "math", "code")]
        math.append({"question": _doc(rng, "math", 12), "choices": choices, "label": 1})
    for name, rows in (("code", code), ("math", math)):
        (eval_dir / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"code": str(eval_dir / "code.jsonl"), "math": str(eval_dir / "math.jsonl")}


def tiny_config(workdir, eval_files: dict, **sweep_overrides):
    sweep = {
        "num_proxies": 3, "seed_repeats": 1, "max_retries": 0, "concentrations": [1.0],
        "eval": [{"group": "code", "path": eval_files["code"]},
                 {"group": "math", "path": eval_files["math"], "format": "choices", "text_field": "question"}],
    }
    sweep.update(sweep_overrides)
    return config_from_dict({
        "workdir": str(workdir), "seed": 0, "ray": {"num_cpus": 2},
        "sweep": sweep,
        "proxy": {"model": {"d_model": 32, "n_layers": 2, "n_heads": 2, "num_experts": 4, "top_k": 2,
                            "expert_hidden": 32, "window": 8, "global_every": 2, "seq_len": 32},
                  "train": {"steps": 4, "batch_size": 4, "eval_batch_size": 16, "device": "cpu"}},
    })
