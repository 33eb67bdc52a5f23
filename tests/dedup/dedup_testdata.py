"""Tiny documents with near duplicates known by construction."""

from __future__ import annotations

import random

import pyarrow as pa

WORDS = (
    "river stone cloud lamp garden window bridge forest candle market paper silver orange winter "
    "harbor engine violin pepper meadow castle rocket tunnel island saddle mirror planet ladder "
    "copper feather basket thunder marble canvas anchor falcon lemon velvet compass glacier"
).split()


def make_doc(seed: int, n_words: int = 60) -> str:
    """A random document of ``n_words`` words; different seeds give unrelated documents."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def near_copy(text: str, n_changes: int = 1, seed: int = 0) -> str:
    """``text`` with ``n_changes`` words replaced near its end (Jaccard of 5-gram shingles stays high)."""
    rng = random.Random(seed)
    words = text.split()
    for i in range(n_changes):
        words[-1 - 2 * i] = f"changed{rng.randint(0, 10**6)}"
    return " ".join(words)


def doc_table(texts: list[str], sources: list[str] | str = "web", buckets=0, scores=None) -> pa.Table:
    n = len(texts)
    sources = [sources] * n if isinstance(sources, str) else sources
    buckets = [buckets] * n if isinstance(buckets, int) else buckets
    scores = scores if scores is not None else [0.5] * n
    return pa.table({
        "id": [f"d{i}" for i in range(n)],
        "source": sources,
        "domain": ["web"] * n,
        "text": texts,
        "quality_score": pa.array(scores, pa.float64()),
        "bucket": pa.array(buckets, pa.int32()),
        "n_tokens": [len(t.split()) for t in texts],
    })
