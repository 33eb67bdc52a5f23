"""Configuration of sources and the curation stage.

Rule thresholds follow Gopher (Rae et al. 2021) and C4 (Raffel et al. 2020); a threshold of -1
disables its rule. Rule sets are per domain (``curation.domain_rules``): prose, math, code or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

RuleSetName = Literal["prose", "math", "code", "none"]


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
    extra_text_fields: tuple[str, ...] = ()
    """More fields appended to text_field's value, one per line (e.g. [answer] for gsm8k)."""
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
class ProseRules:
    """Gopher/C4 rules for natural-language text. Words are whitespace-separated tokens."""

    min_words: int = 50
    """Fewer words than this: filtered (reason short_doc). -1 disables."""
    max_words: int = 100_000
    """More words than this: filtered (long_doc). -1 disables."""
    min_mean_word_length: float = 3.0
    """Mean word length (punctuation stripped) below this: filtered. -1 disables."""
    max_mean_word_length: float = 10.0
    """Mean word length above this: filtered. -1 disables."""
    max_symbol_word_ratio: float = 0.1
    """('#' + ellipses) per word above this: filtered. -1 disables."""
    max_ellipsis_lines: float = 0.3
    """Share of lines ending in an ellipsis above this: filtered. -1 disables."""
    max_bullet_lines: float = 0.9
    """Share of lines starting with a bullet above this: filtered. -1 disables."""
    min_alpha_words: float = 0.8
    """Share of words with a letter below this: filtered. -1 disables."""
    min_stop_words: int = 2
    """Fewer English stop words (the, be, to, of, and, that, have, with) than this: filtered. -1 disables."""
    max_dup_lines: float = 0.3
    """Share of non-empty lines repeating an earlier line above this: filtered. -1 disables."""
    dup_ngram_size: int = 5
    """Word n-gram size of the duplicate n-gram rule."""
    max_dup_ngram_share: float = 0.2
    """Share of words inside repeated n-grams above this: filtered. -1 disables."""
    max_boilerplate_lines: float = 0.3
    """Share of lines with a boilerplate marker (cookie, javascript, ...) above this: filtered. -1 disables."""
    boilerplate_markers: tuple[str, ...] = (
        "javascript", "cookie policy", "use cookies", "accept cookies", "terms of use", "privacy policy",
        "all rights reserved", "click here", "sign up", "log in", "subscribe to", "skip to content",
    )
    """Lower-case substrings that mark a boilerplate line (C4)."""
    banned_phrases: tuple[str, ...] = ("lorem ipsum",)
    """Lower-case substrings that filter the whole document (C4)."""


def _math_rules() -> ProseRules:
    return ProseRules(min_words=10, min_mean_word_length=1.5, max_mean_word_length=15.0,
                      max_symbol_word_ratio=0.5, min_alpha_words=0.3, min_stop_words=1,
                      max_dup_lines=0.5, max_dup_ngram_share=0.5)


@dataclass(frozen=True, kw_only=True)
class CodeRules:
    """Rules for source code: no English stop-word or word-length rules."""

    min_lines: int = 3
    """Fewer non-empty lines than this: filtered (code_few_lines). -1 disables."""
    max_line_length: int = 1000
    """Any line longer than this (characters): filtered. -1 disables."""
    max_mean_line_length: float = 100.0
    """Mean line length above this: filtered. -1 disables."""
    min_alnum_share: float = 0.25
    """Share of letters and digits among characters below this: filtered. -1 disables."""
    max_dup_lines: float = 0.7
    """Share of non-empty lines repeating an earlier line above this: filtered. -1 disables."""
    autogen_markers: tuple[str, ...] = (
        "auto-generated", "autogenerated", "automatically generated", "do not edit", "generated by",
    )
    """Lower-case markers of generated code, looked for in the first autogen_lines lines."""
    autogen_lines: int = 10
    """How many leading lines are searched for autogen_markers."""


@dataclass(frozen=True, kw_only=True)
class PiiConfig:
    """Masking of personal data; per-source ``pii`` overrides the default."""

    emails: bool = True
    """Mask e-mail addresses."""
    phones: bool = True
    """Mask phone numbers (North-American and +country forms)."""
    ips: bool = True
    """Mask IPv4 addresses."""
    default_domains: tuple[str, ...] = ("web", "wiki")
    """Domains masked when a source leaves ``pii`` null."""
    email_replacement: str = "<EMAIL>"
    """Text that replaces an e-mail address."""
    phone_replacement: str = "<PHONE>"
    """Text that replaces a phone number."""
    ip_replacement: str = "<IP>"
    """Text that replaces an IP address."""


@dataclass(frozen=True, kw_only=True)
class ClassifierConfig:
    """The quality classifier: reference sources (positives) against a random sample of the pool."""

    model: Literal["linear", "lgbm", "ensemble"] = "linear"
    """linear: hashed word n-grams + logistic regression; lgbm: LightGBM on heuristic features;
    ensemble: the mean of both models' percentile ranks."""
    ngram_max: int = 2
    """Longest word n-gram of the linear model."""
    hash_bits: int = 18
    """The linear model hashes n-grams into 2**hash_bits features."""
    reg_c: float = 4.0
    """Inverse L2 regularisation strength of the logistic regression."""
    lgbm_trees: int = 200
    """Boosting rounds of the LightGBM model."""
    max_train_docs: int = 5000
    """At most this many positives and this many negatives are sampled for training."""
    min_train_docs: int = 10
    """With fewer positives or negatives the classifier falls back to a constant score of 0.5."""
    holdout: float = 0.2
    """Share of the training sample held out to report ROC AUC."""
    max_chars: int = 20_000
    """Only the first max_chars characters of a document are scored."""

    def validate(self) -> None:
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"classifier.holdout must be in (0, 1), got {self.holdout}")
        if not 10 <= self.hash_bits <= 24:
            raise ValueError(f"classifier.hash_bits must be in [10, 24], got {self.hash_bits}")


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    """The project's byte-level BPE tokenizer, trained on a sample of the curated pool."""

    vocab_size: int = 4096
    """Vocabulary size, byte alphabet and special tokens included."""
    sample_docs: int = 3000
    """Documents sampled from the pool to train it."""
    max_chars: int = 20_000
    """Only the first max_chars characters of a sampled document are used."""

    def validate(self) -> None:
        if self.vocab_size < 300:
            raise ValueError(f"tokenizer.vocab_size must be at least 300 (bytes + merges), got {self.vocab_size}")


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
    text_files_per_unit: int = 200
    """Text-folder sources are processed in units of this many files (other formats: one file per unit)."""
    domain_rules: dict[str, RuleSetName] = field(default_factory=lambda: {"code": "code", "math": "math"})
    """Rule set per domain; domains not listed use prose."""
    prose: ProseRules = field(default_factory=ProseRules)
    """Rules of the prose rule set (web, wiki, stem, ...)."""
    math: ProseRules = field(default_factory=_math_rules)
    """Rules of the math rule set: prose rules with room for formulas and short problems."""
    code: CodeRules = field(default_factory=CodeRules)
    """Rules of the code rule set."""
    pii: PiiConfig = field(default_factory=PiiConfig)
    """Personal-data masking."""
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    """Quality classifier."""
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    """Project tokenizer."""

    def validate(self) -> None:
        if self.num_buckets < 1:
            raise ValueError(f"num_buckets must be at least 1, got {self.num_buckets}")
        if len(self.keep_fractions) != self.num_buckets:
            raise ValueError(
                f"keep_fractions must have num_buckets={self.num_buckets} values, got {len(self.keep_fractions)}"
            )
        if any(not 0.0 <= f <= 1.0 for f in self.keep_fractions):
            raise ValueError(f"keep_fractions must lie in [0, 1], got {list(self.keep_fractions)}")
        if self.bucket_thresholds is not None:
            if len(self.bucket_thresholds) != self.num_buckets - 1:
                raise ValueError(
                    f"bucket_thresholds must have num_buckets - 1 = {self.num_buckets - 1} values, "
                    f"got {len(self.bucket_thresholds)}"
                )
            if list(self.bucket_thresholds) != sorted(self.bucket_thresholds, reverse=True):
                raise ValueError(f"bucket_thresholds must be descending, got {list(self.bucket_thresholds)}")
        if self.max_doc_bytes < 1:
            raise ValueError(f"max_doc_bytes must be at least 1, got {self.max_doc_bytes}")
        if self.rows_per_block < 1 or self.text_files_per_unit < 1:
            raise ValueError("rows_per_block and text_files_per_unit must be at least 1")
