"""Configuration of sources and the curation stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """One raw data source."""

    name: str
    """Unique name; becomes the ``source`` column and the prefix of its mixing components."""
    paths: tuple[str, ...]
    """Files, folders or globs (relative paths resolve against the current directory)."""
    format: Literal["jsonl", "parquet", "text"] = "jsonl"
    """jsonl (plain, .gz, .zst), parquet, or text (one document per file)."""
    domain: str = "web"
    """Domain label (web, code, math, stem, wiki, ...); selects the heuristic rule set."""
    text_field: str = "text"
    """Field holding the document text (jsonl, parquet)."""
    id_field: Optional[str] = "id"
    """Field holding the input's document id; null or absent uses path:line."""
    reference: bool = False
    """Use this source as high-quality positives when training the quality classifier."""
    pii: Optional[bool] = None
    """Mask e-mails, phone numbers and IPs; null means on for web-like domains (web, wiki)."""

    def validate(self) -> None:
        if not self.name or "." in self.name or "/" in self.name:
            raise ValueError(f"source name must be non-empty without '.' or '/', got {self.name!r}")
        if not self.paths:
            raise ValueError(f"source {self.name!r}: paths must list at least one file, folder or glob")


@dataclass(frozen=True, kw_only=True)
class CurationConfig:
    """Curation stage settings."""

    max_doc_bytes: int = 1_000_000
    """Documents longer than this (UTF-8 bytes) are quarantined."""
    num_buckets: int = 5
    """Number of quality buckets (0 = best)."""
    bucket_thresholds: Optional[tuple[float, ...]] = None
    """Fixed score thresholds, descending (num_buckets - 1 values); null uses score quantiles."""
    keep_fractions: tuple[float, ...] = (1.0, 1.0, 1.0, 0.8, 0.6)
    """Fraction of each bucket kept (best first); low buckets are kept in part, not dropped."""
    rows_per_block: int = 2000
    """Documents per batch in map_batches."""

    def validate(self) -> None:
        if self.num_buckets < 1:
            raise ValueError(f"num_buckets must be at least 1, got {self.num_buckets}")
        if len(self.keep_fractions) != self.num_buckets:
            raise ValueError(
                f"keep_fractions must have num_buckets={self.num_buckets} values, got {len(self.keep_fractions)}"
            )
        if any(not 0.0 <= f <= 1.0 for f in self.keep_fractions):
            raise ValueError(f"keep_fractions must lie in [0, 1], got {list(self.keep_fractions)}")
        if self.bucket_thresholds is not None and len(self.bucket_thresholds) != self.num_buckets - 1:
            raise ValueError(
                f"bucket_thresholds must have num_buckets - 1 = {self.num_buckets - 1} values, "
                f"got {len(self.bucket_thresholds)}"
            )
