"""Configuration of the dedup stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class DedupConfig:
    """Exact and MinHash LSH near-duplicate removal."""

    enabled: bool = True
    """Set to false to pass documents through unchanged."""
    threshold: float = 0.8
    """Jaccard similarity at or above which two documents are near duplicates."""
    num_perm: int = 128
    """MinHash permutations."""
    ngram: int = 5
    """Shingle size (words, or characters with shingle: char)."""
    shingle: Literal["word", "char"] = "word"
    """Shingle unit; char n-grams suit code."""
    scope: Literal["global", "source", "bucket"] = "global"
    """Where duplicates are looked for: the whole pool, within each source, or within each bucket."""
    verify: bool = True
    """Check candidate pairs by estimated Jaccard before joining them into a cluster."""
    seed: int = 1
    """Seed of the MinHash permutations (datasketch's scheme)."""

    def validate(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 2:
            raise ValueError(f"num_perm must be at least 2, got {self.num_perm}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")
