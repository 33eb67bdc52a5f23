"""The curation steps composed per unit of work, with no knowledge of the workdir or of Ray.

Two passes, because buckets need the scores of the whole pool:
- ``Prefilter``: ingest -> normalise -> mask PII -> heuristic filters (kinds passed, filtered, quarantine);
- ``Finalize``: score -> bucket and retain -> count tokens (kinds kept, filtered).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa

from curation.buckets import Bucketize
from curation.classifier import Scorer
from curation.config import CurationConfig, SourceConfig
from curation.filters import HeuristicFilter
from curation.ingest import Ingest
from curation.normalize import Normalize
from curation.pii import KINDS as PII_KINDS
from curation.pii import PiiMasker, pii_enabled
from curation.tokenizer import TokenCounter
from dataplane.schema import QUARANTINE_SCHEMA, conform


def blocks(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    """Slices of at most ``rows`` rows (one empty slice for an empty table)."""
    if table.num_rows == 0:
        yield table
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)


class Prefilter:
    """Ingest -> Normalize -> PiiMasker -> HeuristicFilter for the (source, path) rows of one unit.

    Returns {"passed", "filtered", "quarantine"}; ``counts(result)`` gives the unit's ledger counts.

    Args:
        config: curation settings.
        sources: the run's sources.
    """

    def __init__(self, config: CurationConfig, sources: tuple[SourceConfig, ...]):
        self.config = config
        self.ingest = Ingest(config, {s.name: s for s in sources})
        masked = {s.name for s in sources if pii_enabled(s, config.pii)}
        self.steps = [Normalize(), PiiMasker(config.pii, masked)]
        self.filter = HeuristicFilter(config)

    def __call__(self, paths: pa.Table) -> dict[str, pa.Table]:
        raw = self.ingest(paths)
        out: dict[str, list[pa.Table]] = {"passed": [], "filtered": []}
        for batch in blocks(raw["docs"], self.config.rows_per_block):
            for step in self.steps:
                batch = step(batch)
            for kind, part in self.filter(batch).items():
                out["passed" if kind == "kept" else kind].append(part)
        result = {kind: pa.concat_tables(parts) for kind, parts in out.items()}
        result["quarantine"] = raw["quarantine"]
        return result

    @staticmethod
    def counts(result: dict) -> dict[str, dict]:
        """Per source: docs in, bytes in, and documents masked per PII kind."""
        counts: dict[str, dict] = {}
        quarantine = result["quarantine"]
        for source in quarantine.column("source").to_pylist():
            counts.setdefault(source, _zero())["in"] += 1
        for kind in ("passed", "filtered"):
            cols = result[kind].select(["source", "n_bytes", *(f"pii_{k}" for k in PII_KINDS)]).to_pydict()
            for i, source in enumerate(cols["source"]):
                c = counts.setdefault(source, _zero())
                c["in"] += 1
                c["in_bytes"] += cols["n_bytes"][i]
                for pii in PII_KINDS:
                    c["pii"][pii] += cols[f"pii_{pii}"][i] > 0
        return counts


def _zero() -> dict:
    return {"in": 0, "in_bytes": 0, "pii": {k: 0 for k in PII_KINDS}}


def shard_tables(result: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Prefilter output in the shard schemas (DOC_SCHEMA, QUARANTINE_SCHEMA)."""
    return {"passed": conform(result["passed"]), "filtered": conform(result["filtered"]),
            "quarantine": result["quarantine"].cast(QUARANTINE_SCHEMA)}


class Finalize:
    """Scorer -> Bucketize -> TokenCounter on the passed documents of one unit.

    Returns {"kept", "filtered"} in DOC_SCHEMA; filtered holds the documents dropped by retention.

    Args:
        config: curation settings.
        classifier_dir: folder of the saved quality classifier.
        tokenizer_path: the project tokenizer (tokenizer.json).
        thresholds: descending bucket thresholds.
        seed: the run's seed.
    """

    def __init__(self, config: CurationConfig, classifier_dir: Path | str, tokenizer_path: Path | str,
                 thresholds: list[float], seed: int):
        self.config = config
        self.scorer = Scorer(classifier_dir)
        self.bucketize = Bucketize(config, thresholds, seed)
        self.tokens = TokenCounter(tokenizer_path)

    def __call__(self, passed: pa.Table) -> dict[str, pa.Table]:
        passed = passed.drop_columns([c for c in ("quality_score", "bucket", "reason") if c in passed.column_names])
        scored = pa.concat_tables([self.scorer(b) for b in blocks(passed, self.config.rows_per_block)])
        split = self.bucketize(scored)
        return {kind: conform(self.tokens(table)) for kind, table in split.items()}

