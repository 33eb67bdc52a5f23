"""The synth policy's seed selection: which kept documents each rule rewrites, and how tasks form units.

Selection is a seeded, stable sample (a hash order, not a random generator), so the same config picks
the same seeds on any machine and a resumed run plans the same units.
"""

from __future__ import annotations

import hashlib
import math

import pyarrow as pa

from synth.strategies import is_pipeline


def rank_key(*parts) -> str:
    """A stable pseudo-random sort key: the same parts give the same order on every machine."""
    return hashlib.sha1(":".join(str(p) for p in parts).encode()).hexdigest()


def select_seeds(meta: pa.Table, rule, index: int, seed: int) -> list[str]:
    """doc_ids a rule selects: its sources and buckets, a seeded sample of ``fraction``, capped."""
    rows = meta.to_pylist()
    ids = sorted({r["doc_id"] for r in rows if (not rule.sources or r["source"] in rule.sources)
                  and (not rule.buckets or r["bucket"] in rule.buckets)})
    ids.sort(key=lambda d: rank_key(seed, index, rule.strategy, d))
    ids = ids[: math.ceil(rule.fraction * len(ids))]
    return ids if is_pipeline(rule.strategy) else ids[: rule.max_docs]


def _chunks(rows: list[dict], size: int):
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def seed_tasks(seeds: pa.Table, rule, index: int, size: int) -> dict[str, list[dict]]:
    """Seed-heavy rewrite tasks of a rule, one per seed document, chunked into named units."""
    docs = sorted(seeds.to_pylist(), key=lambda d: d["doc_id"])
    tasks = [{"strategy": rule.strategy, "parent_id": d["doc_id"], "source": d["source"], "domain": d["domain"],
              "bucket": d["bucket"], "quality_score": d["quality_score"], "payload": d["text"]} for d in docs]
    return task_units(tasks, rule, index, size)


def task_units(tasks: list[dict], rule, index: int, size: int) -> dict[str, list[dict]]:
    """Give each task a stable id and chunk the tasks into units named by rule index and strategy."""
    for t in tasks:
        t["task_id"] = rank_key(index, rule.strategy, t["parent_id"])[:16]
    return {f"r{index:02d}-{rule.strategy}-{k:04d}": chunk for k, chunk in enumerate(_chunks(tasks, size))}
