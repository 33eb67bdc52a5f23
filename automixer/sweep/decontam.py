"""N-gram decontamination: evaluation items that share a long word n-gram with a training document.

An id check catches an evaluation item copied whole into the training pool; it misses one quoted inside
a longer document (a forum thread citing a test question, a page holding a benchmark passage). Here an
item is contaminated when any ``n`` consecutive words of it (13 by default, as in GPT-3's and OLMo's
decontamination) also occur in a training document.

Streaming: only the evaluation side is indexed (a few thousand items: a set of their n-grams); the
training documents are read shard by shard, in record batches, and each document's n-grams are looked
up and forgotten. Memory is the evaluation index plus one batch, whatever the pool's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lowercased word tokens (letters, digits, underscore): punctuation, spacing and case never
    hide a shared passage (wikitext's ``@-@`` and tokenised spaces included)."""
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[str]:
    """Every run of ``n`` consecutive words, joined by one space; empty when the text is shorter."""
    w = words(text)
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def contaminated(items: list[str], training_texts: Iterable[str], n: int) -> set[int]:
    """Indices of ``items`` sharing at least one ``n``-word n-gram with any of ``training_texts``.

    Items shorter than ``n`` words cannot match and are never flagged."""
    owners: dict[str, list[int]] = {}
    for i, text in enumerate(items):
        for g in ngrams(text, n):
            owners.setdefault(g, []).append(i)
    hit: set[int] = set()
    if not owners:
        return hit
    for text in training_texts:
        w = words(text)
        for i in range(len(w) - n + 1):
            found = owners.get(" ".join(w[i:i + n]))
            if found:
                hit.update(found)
    return hit


def shard_texts(shards: list[Path], batch_rows: int = 2048) -> Iterator[str]:
    """The ``text`` column of Parquet shards, one record batch in memory at a time."""
    for path in shards:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=["text"]):
            yield from (t for t in batch.column(0).to_pylist() if t)
