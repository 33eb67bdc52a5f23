"""Curation throughput on this machine: documents/s and MB/s for the filters and for scoring.

Runs the stage classes in a plain loop on one core (Ray multiplies this by the cores it has):
prefilter = Normalize + PiiMasker + HeuristicFilter; scoring = QualityClassifier.predict for the linear,
lgbm and ensemble models. Data: web, math, code and wiki sources from ../shared/corpora when present,
else generated text.

    .venv/bin/python benchmarks/bench_curation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curation.classifier import QualityClassifier  # noqa: E402
from curation.config import ClassifierConfig, CurationConfig, SourceConfig  # noqa: E402
from curation.filters import HeuristicFilter  # noqa: E402
from curation.ingest import Ingest, plan_units  # noqa: E402
from curation.normalize import Normalize  # noqa: E402
from curation.pii import PiiMasker  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
SOURCES = [
    SourceConfig(name="ewt", paths=(str(CORPORA / "web_ud_ewt"),), domain="web"),
    SourceConfig(name="news", paths=(str(CORPORA / "web_news_articles"),), domain="web", reference=True),
    SourceConfig(name="gsm8k", paths=(str(CORPORA / "gsm8k" / "gsm8k_train.jsonl.gz"),), domain="math",
                 text_field="question", extra_text_fields=("answer",), id_field=None),
    SourceConfig(name="humaneval", paths=(str(CORPORA / "humaneval"),), domain="code", text_field="prompt",
                 extra_text_fields=("canonical_solution",), id_field="task_id"),
    SourceConfig(name="wikitext", paths=(str(CORPORA / "wikitext2"),), domain="wiki", reference=True),
]


def load_docs() -> pa.Table:
    config = CurationConfig()
    if not CORPORA.is_dir():
        import random

        rng = random.Random(0)
        words = "the of and to data model quality filter score mixture token a in is for".split()
        texts = [" ".join(rng.choice(words) for _ in range(rng.randint(50, 800))) for _ in range(5000)]
        return pa.table({"id": [str(i) for i in range(len(texts))], "source": ["synthetic"] * len(texts),
                         "domain": ["web"] * len(texts), "text": texts})
    ingest = Ingest(config, {s.name: s for s in SOURCES})
    return pa.concat_tables([ingest(u.paths_table())["docs"] for u in plan_units(tuple(SOURCES), config)])


def report(name: str, n_docs: int, n_bytes: int, seconds: float) -> None:
    print(f"{name:28s} {n_docs:7d} docs {n_bytes / 1e6:7.1f} MB {seconds:6.2f} s "
          f"{n_docs / seconds:9.0f} docs/s {n_bytes / 1e6 / seconds:6.2f} MB/s")


def main() -> None:
    started = time.time()
    docs = load_docs()
    n_bytes = sum(len(t.encode()) for t in docs.column("text").to_pylist())
    config = CurationConfig()
    print(f"curation throughput, one core, {docs.num_rows} documents ({n_bytes / 1e6:.1f} MB)")
    t = time.time()
    table = Normalize()(docs)
    table = PiiMasker(config.pii, {s.name for s in SOURCES if s.domain in ("web", "wiki")} | {"synthetic"})(table)
    report("normalise + PII", docs.num_rows, n_bytes, time.time() - t)
    t = time.time()
    split = HeuristicFilter(config)(table)
    report("heuristic filters", docs.num_rows, n_bytes, time.time() - t)

    pool = split["kept"]
    texts, sources = pool.column("text").to_pylist(), pool.column("source").to_pylist()
    reference = {s.name for s in SOURCES if s.reference}
    labels = [int(s in reference) for s in sources]
    if len(set(labels)) < 2:  # generated text: split it in two halves to have something to fit
        labels = [i % 2 for i in range(len(texts))]
    pool_bytes = sum(pool.column("n_bytes").to_pylist())
    t = time.time()
    clf = QualityClassifier(ClassifierConfig(model="ensemble"), seed=0).fit(texts, labels)
    auc = ", ".join(f"{k} {v:.3f}" for k, v in clf.meta["auc"].items())
    print(f"classifier fit (linear + lgbm) {time.time() - t:.1f} s on {len(texts)} documents "
          f"({sum(labels)} reference); held-out ROC AUC {auc}")
    for part in ("linear", "lgbm"):
        t = time.time()
        clf._predict_part(part, [x[: clf.config.max_chars] for x in texts])
        report(f"scoring ({part})", len(texts), pool_bytes, time.time() - t)
    t = time.time()
    clf.predict(texts)
    report("scoring (ensemble)", len(texts), pool_bytes, time.time() - t)
    print(f"total {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
