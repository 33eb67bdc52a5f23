"""The synth stage: a table of tasks in, one outcome row per task out (a synthetic doc or a rejection).

A task is a seed document (seed-heavy strategies) or a bundle of features (pipeline-heavy, see
synth/features.py). The same object runs in a plain loop in tests and under Ray Data map_batches.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from dataplane.schema import conform, doc_id_for
from synth.checks import check_output
from synth.config import SynthConfig
from synth.offline import OFFLINE_MODEL, RULES, rules_hash
from synth.openai_backend import OpenAIBackend, Reply
from synth.prompts import PromptBook, render_features
from synth.strategies import is_pipeline
from synth.text import cut_at_sentence

TASK_SCHEMA = pa.schema([
    ("task_id", pa.string()), ("strategy", pa.string()), ("parent_id", pa.string()), ("source", pa.string()),
    ("domain", pa.string()), ("bucket", pa.int32()), ("quality_score", pa.float64()), ("payload", pa.string()),
])
STAT_COLUMNS = ("requests", "retries", "cache_hit")
_TOKENIZERS: dict[str, object] = {}


def count_tokens(texts: list[str], tokenizer_path: str | None) -> list[int]:
    """Tokens per text with the project tokenizer, or a whitespace estimate without one."""
    if not tokenizer_path:
        return [len(t.split()) for t in texts]
    if tokenizer_path not in _TOKENIZERS:
        from tokenizers import Tokenizer

        _TOKENIZERS[tokenizer_path] = Tokenizer.from_file(tokenizer_path)
    return [len(e.ids) for e in _TOKENIZERS[tokenizer_path].encode_batch(texts)] if texts else []


class SynthStage:
    """Stage: TASK_SCHEMA rows -> DOC_SCHEMA rows plus task_id, requests, retries, cache_hit.

    Rejected outcomes keep their (possibly empty) answer in ``text`` and say why in ``reason``.

    Args:
        config: the synth config (backend, checks, limits).
        tokenizer_path: tokenizer.json for n_tokens; None uses a whitespace estimate.
        cache_path: response cache of the openai backend; None disables it.
        seed: seed of the backoff jitter.
    """

    def __init__(self, config: SynthConfig, *, tokenizer_path: str | None = None,
                 cache_path: str | None = None, seed: int = 0):
        self.config = config
        self.tokenizer_path = tokenizer_path
        self.book = PromptBook(config.openai.system_prompt, config.openai.templates)
        self.backend = OpenAIBackend(config.openai, cache_path, seed) if config.backend == "openai" else None

    def _inputs(self, task: dict) -> str:
        if is_pipeline(task["strategy"]):
            return render_features(task["payload"])
        return cut_at_sentence(task["payload"], self.config.max_seed_chars)

    def _offline(self, task: dict) -> Reply:
        rule = RULES[task["strategy"]]
        inputs = json.loads(task["payload"]) if is_pipeline(task["strategy"]) else task["payload"]
        return Reply(content=rule(inputs, int(task["task_id"][:8], 16), self.config.max_seed_chars))

    def generate(self, tasks: list[dict]) -> list[Reply]:
        if self.backend is None:
            return [self._offline(t) for t in tasks]
        return self.backend.complete([self.book.messages(t["strategy"], self._inputs(t)) for t in tasks])

    def _reason(self, task: dict, reply: Reply) -> str | None:
        if reply.error:
            return f"failed:{reply.error}"
        if reply.finish_reason == "length":
            return "truncated"
        seed = None if is_pipeline(task["strategy"]) else self._inputs(task)
        return check_output(reply.content, seed, min_chars=self.config.min_chars, max_chars=self.config.max_chars,
                            copy_threshold=self.config.copy_threshold)

    def _provenance(self, strategy: str) -> dict:
        if self.backend is None:
            return {"synth_backend": "offline", "synth_model": OFFLINE_MODEL, "synth_prompt_hash": rules_hash(strategy)}
        return {"synth_backend": "openai", "synth_model": self.config.openai.model,
                "synth_prompt_hash": self.book.hash(strategy)}

    def __call__(self, tasks: pa.Table) -> pa.Table:
        rows = tasks.to_pylist()
        replies = self.generate(rows)
        texts = [(r.content or "").strip() for r in replies]
        tokens = count_tokens(texts, self.tokenizer_path)
        out = []
        for task, reply, text, n_tokens in zip(rows, replies, texts, tokens):
            out.append({
                "doc_id": doc_id_for(text), "source": task["source"], "domain": task["domain"], "text": text,
                "n_bytes": len(text.encode("utf-8")), "n_tokens": n_tokens, "bucket": task["bucket"],
                "quality_score": task["quality_score"], "synthetic": True, "synth_strategy": task["strategy"],
                "parent_id": task["parent_id"], "reason": self._reason(task, reply),
                **self._provenance(task["strategy"]),
            })
        table = conform(pa.Table.from_pylist(out)) if out else conform(TASK_SCHEMA.empty_table())
        stats = {
            "task_id": pa.array([t["task_id"] for t in rows], pa.string()),
            "requests": pa.array([r.requests for r in replies], pa.int64()),
            "retries": pa.array([r.retries for r in replies], pa.int64()),
            "cache_hit": pa.array([r.cache_hit for r in replies], pa.bool_()),
        }
        for name, column in stats.items():
            table = table.append_column(name, column)
        return table


def split_outcomes(outcomes: pa.Table) -> dict[str, pa.Table]:
    """{"docs": accepted rows, "rejected": rejected rows}, both conformed to DOC_SCHEMA."""
    accepted = pc.is_null(outcomes.column("reason"))
    return {"docs": conform(outcomes.filter(accepted)), "rejected": conform(outcomes.filter(pc.invert(accepted)))}
