"""Synth throughput: requests/s of the openai backend against the local fake server at several
concurrency levels (fixed server latency), and offline documents/s of every strategy.

    .venv/bin/python benchmarks/bench_synth.py [--latency 0.05] [--requests 200]

Runs in well under two minutes on a laptop; no network beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import pyarrow as pa

from dataplane.schema import doc_id_for
from synth.config import OpenAIBackendConfig, SynthConfig
from synth.fake_server import FakeChatServer
from synth.features import FeatureExtractor, make_bundles
from synth.openai_backend import OpenAIBackend
from synth.stage import TASK_SCHEMA, SynthStage
from synth.strategies import STRATEGIES

CORPUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "web_news_articles" / "news_articles.jsonl.gz"
)


def bench_requests(latency_s: float, n: int, levels: list[int]) -> None:
    print(f"openai backend, local server, {latency_s * 1000:.0f} ms latency, {n} requests, no cache")
    with FakeChatServer(latency_s=latency_s) as server:
        for level in levels:
            config = OpenAIBackendConfig(base_url=server.url, concurrency=level, timeout_s=10, cache=False)
            prompts = [[{"role": "user", "content": f"c{level} prompt {i}"}] for i in range(n)]
            started = time.perf_counter()
            replies = OpenAIBackend(config).complete(prompts)
            wall = time.perf_counter() - started
            assert all(r.content for r in replies)
            print(f"  concurrency {level:3d}: {n / wall:8.1f} requests/s  (ideal {level / latency_s:8.1f})")


def load_docs(n: int) -> list[str]:
    if CORPUS.exists():
        with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
            return [json.loads(line)["text"] for line in fh][:n]
    from pydoc_data.topics import topics  # the shared corpora are absent: the interpreter's help texts

    return [t for _, t in sorted(topics.items()) if len(t) > 500][:n]


def bench_offline(n: int) -> None:
    texts = load_docs(n)
    seeds = pa.table(
        {
            "doc_id": [doc_id_for(t) for t in texts],
            "source": ["news"] * len(texts),
            "domain": ["web"] * len(texts),
            "bucket": pa.array([0] * len(texts), pa.int32()),
            "quality_score": [0.5] * len(texts),
            "text": texts,
        }
    )
    stage = SynthStage(SynthConfig())
    print(f"offline backend, {len(texts)} news articles (mean {sum(map(len, texts)) // len(texts)} chars), one process")
    started = time.perf_counter()
    features = FeatureExtractor()(seeds)
    wall = time.perf_counter() - started
    print(f"  {'features':14s}: {len(texts) / wall:8.1f} docs/s  ({features.num_rows} features)")
    for name, strategy in STRATEGIES.items():
        if strategy.kind == "seed":
            rows = [
                {
                    "task_id": doc_id_for(name + d),
                    "strategy": name,
                    "parent_id": d,
                    "source": "news",
                    "domain": "web",
                    "bucket": 0,
                    "quality_score": 0.5,
                    "payload": t,
                }
                for d, t in zip(seeds.column("doc_id").to_pylist(), texts)
            ]
        else:
            rows = make_bundles(features, name, per=4, max_outputs=len(texts), seed=0)
            for r in rows:
                r["task_id"] = doc_id_for(r["parent_id"])
        tasks = pa.Table.from_pylist(rows, schema=TASK_SCHEMA)
        started = time.perf_counter()
        out = stage(tasks)
        wall = time.perf_counter() - started
        accepted = out.column("reason").null_count
        print(f"  {name:14s}: {tasks.num_rows / wall:8.1f} docs/s  ({accepted}/{tasks.num_rows} accepted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--levels", default="1,4,16", help="comma-separated concurrency levels")
    parser.add_argument("--docs", type=int, default=180, help="documents for the offline benchmark")
    args = parser.parse_args()
    bench_requests(args.latency, args.requests, [int(x) for x in args.levels.split(",")])
    bench_offline(args.docs)


if __name__ == "__main__":
    main()
