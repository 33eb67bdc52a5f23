"""Unique tokens kept by curation's bucket policy against a precision-only policy (top bucket only).

Reads the deduplicated pool of a finished run (``dedup`` kept shards, after curation's bucket retention)
and counts its tokens with the run's tokenizer: all kept buckets (the bucket policy: every quality level
kept, the lowest one thinned by ``curation.keep_fractions``) against bucket 0 alone (what a classifier
threshold at the top bucket would keep). Poolside reported this measure for the diversity-preserving
curation of its Laguna models. Tokens are counted per source too.

Run after `make real` (or `automixer dedup configs/real-cpu.yaml`):
    .venv/bin/python benchmarks/real_bucket_policy.py [configs/real-cpu.yaml]
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from automixer.config import load_config  # noqa: E402
from automixer.pool import kept_store  # noqa: E402
from automixer.sweep.components import load_tokenizer  # noqa: E402


def count_tokens(config) -> dict[tuple[str, int], list[int]]:
    """(source, bucket) -> [documents, tokens] over the kept pool."""
    tok, _ = load_tokenizer(config)
    counts: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for path in kept_store(config.workdir_path, "sweep").files("kept"):
        table = pq.read_table(path, columns=["source", "bucket", "text"])
        sources, buckets, texts = (table.column(c).to_pylist() for c in ("source", "bucket", "text"))
        for start in range(0, len(texts), 1000):
            encs = tok.encode_batch(texts[start:start + 1000], add_special_tokens=False)
            for i, enc in enumerate(encs, start):
                c = counts[(sources[i], buckets[i])]
                c[0] += 1
                c[1] += len(enc.ids)
    return counts


def main(config_path: str) -> None:
    config = load_config(config_path)
    counts = count_tokens(config)
    sources = sorted({s for s, _ in counts})
    print(f"{'source':12s} {'docs':>7s} {'tokens (all buckets)':>21s} {'tokens (bucket 0)':>18s} {'share':>6s}")
    total, top = 0, 0
    for s in sources:
        docs = sum(v[0] for (src, _), v in counts.items() if src == s)
        all_t = sum(v[1] for (src, _), v in counts.items() if src == s)
        top_t = counts.get((s, 0), [0, 0])[1]
        total, top = total + all_t, top + top_t
        print(f"{s:12s} {docs:7d} {all_t:21,d} {top_t:18,d} {top_t / max(all_t, 1):6.1%}")
    print(f"{'total':12s} {'':7s} {total:21,d} {top:18,d} {top / max(total, 1):6.1%}")
    print(f"bucket policy keeps {total:,} unique tokens; top bucket only keeps {top:,} "
          f"({top / max(total, 1):.1%}); the policy keeps {total / max(top, 1):.2f}x as many")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "configs/real-cpu.yaml")
