"""Configuration of the dedup stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

MAX_NUM_PERM = 1024
"""More permutations change the Jaccard estimate little and cost time: choosing LSH bands and rows for
4096 takes 17 s, for 10^12 it would never end (and the signatures would not fit in memory)."""


@dataclass(frozen=True, kw_only=True)
class DedupConfig:
    """Exact and MinHash LSH near-duplicate removal."""

    enabled: bool = True
    """Set to false to pass documents through unchanged."""
    threshold: float = 0.8
    """Jaccard similarity at or above which two documents are near duplicates."""
    num_perm: int = 128
    """MinHash permutations (2 to 1024)."""
    ngram: int = 5
    """Shingle size (words, or characters with shingle: char)."""
    shingle: Literal["word", "char"] = "word"
    """Shingle unit; char n-grams suit code."""
    scope: Literal["global", "source", "bucket"] = "global"
    """Where duplicates are looked for: the whole pool, within each source, or within each bucket."""
    verify: bool = True
    """Check candidate pairs by the Jaccard of their samples before joining them into a cluster."""
    seed: int = 1
    """Seed of the shingle hash (signatures and samples)."""
    sample_size: int = 512
    """Bottom-k sample of shingle hashes kept per document for verification: the Jaccard estimate is
    exact for documents of at most this many shingles (see docs/DEDUP.md)."""
    false_negative_weight: Optional[float] = None
    """Weight of missed pairs when LSH bands and rows are chosen from the threshold (datasketch's
    method; false positives weigh 1 minus this). null: 0.998 with verify (at threshold 0.8 and 128
    permutations, 21 bands of 6 rows: a pair at the threshold becomes a candidate with probability
    0.998, and verification removes the extra candidates), else 0.5 (datasketch's default)."""
    verify_group_limit: int = 50
    """Band groups up to this size are verified pair by pair; larger ones by the leader method."""
    max_leaders: int = 32
    """Leaders per large band group (each is compared with every member); past this, the remaining
    members are compared with their neighbours in signature order only (see docs/DEDUP.md)."""
    batch_size: int = 1024
    """Documents per signature batch (one numpy pass each)."""
    docs_per_partition: int = 50_000
    """Documents per shuffle partition: the chain uses ceil(documents / this) partitions, so the
    memory of one task does not grow with the corpus."""
    docs_per_shard: int = 20_000
    """Documents per Parquet shard when a bare file is split for the chain."""

    def validate(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 2 <= self.num_perm <= MAX_NUM_PERM:
            raise ValueError(f"num_perm must be in [2, {MAX_NUM_PERM}], got {self.num_perm}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")
        if self.false_negative_weight is not None and not 0.0 <= self.false_negative_weight <= 1.0:
            raise ValueError(f"false_negative_weight must be in [0, 1], got {self.false_negative_weight}")
        if self.verify_group_limit < 2:
            raise ValueError(f"verify_group_limit must be at least 2, got {self.verify_group_limit}")
        for name in ("batch_size", "sample_size", "max_leaders", "docs_per_partition", "docs_per_shard"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def bands_rows(self) -> tuple[int, int]:
        """LSH (bands, rows) chosen from threshold and num_perm (datasketch's _optimal_param)."""
        from dedup.minhash import optimal_param

        fn_weight = self.false_negative_weight
        if fn_weight is None:
            fn_weight = 0.998 if self.verify else 0.5
        return optimal_param(self.threshold, self.num_perm, 1.0 - fn_weight, fn_weight)
