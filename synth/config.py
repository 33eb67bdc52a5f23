"""Configuration of synthetic rewriting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional


@dataclass(frozen=True, kw_only=True)
class SelectionRule:
    """Which seed documents feed which strategy."""

    strategy: str
    """Strategy name (qa, list, dialogue, wiki, distill, knowledge_list, exercises, summary)."""
    sources: tuple[str, ...] = ()
    """Seed sources (empty: all)."""
    buckets: tuple[int, ...] = ()
    """Seed quality buckets (empty: all)."""
    max_docs: int = 200
    """At most this many seeds (or outputs for pipeline strategies)."""
    fraction: float = 1.0
    """Fraction of the matching seeds to use, sampled with the run seed."""

    def validate(self) -> None:
        from synth.strategies import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}, expected one of {', '.join(STRATEGIES)}")
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.max_docs < 1:
            raise ValueError(f"max_docs must be at least 1, got {self.max_docs}")


@dataclass(frozen=True, kw_only=True)
class OpenAIBackendConfig:
    """An OpenAI-compatible chat-completions server (vLLM, Ollama, SGLang, hosted APIs)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    """Server base URL, up to and including /v1 (requests go to {base_url}/chat/completions)."""
    model: str = "default"
    """Model name sent with each request."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (never put the key itself in the config); unset: no key."""
    concurrency: int = 8
    """Requests in flight at once."""
    timeout_s: float = 60.0
    """Per-request timeout."""
    max_retries: int = 5
    """Retries on 429, 5xx, timeouts and malformed answers (exponential backoff with jitter)."""
    backoff_base_s: float = 1.0
    """First retry waits about this long; each further retry doubles it (with jitter)."""
    backoff_max_s: float = 30.0
    """Cap of one backoff wait (also caps a server's Retry-After)."""
    temperature: float = 0.7
    """Sampling temperature (part of the cache key)."""
    max_tokens: int = 1024
    """Most tokens per answer (part of the cache key)."""
    system_prompt: Optional[str] = None
    """System message; null uses the built-in one (synth/prompts.py)."""
    templates: dict[str, str] = field(default_factory=dict)
    """Per-strategy user-prompt templates replacing the built-in ones; {text} is the seed or feature list."""
    cache: bool = True
    """Keep answers in <workdir>/synth/cache.sqlite so a re-run sends nothing twice."""

    def validate(self) -> None:
        from synth.strategies import STRATEGIES

        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {self.max_retries}")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        for name, template in self.templates.items():
            if name not in STRATEGIES:
                raise ValueError(f"templates: unknown strategy {name!r}, expected one of {', '.join(STRATEGIES)}")
            if "{text}" not in template:
                raise ValueError(f"templates.{name} must contain the placeholder {{text}}")


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """Synthetic rewriting stage."""

    enabled: bool = True
    """Set to false to skip the stage."""
    backend: Literal["offline", "openai"] = "offline"
    """offline: deterministic rules, no model; openai: an OpenAI-compatible server."""
    openai: OpenAIBackendConfig = field(default_factory=OpenAIBackendConfig)
    policy: tuple[SelectionRule, ...] = ()
    """Selection rules; empty means no synthetic data."""
    min_chars: int = 50
    """Outputs shorter than this are rejected."""
    max_chars: int = 20000
    """Outputs longer than this are rejected."""
    copy_threshold: float = 0.8
    """Reject a seed-heavy output when this share of its word 5-grams is in the seed and this share of
    the seed's is in it (a verbatim copy); set to -1 to disable."""
    max_seed_chars: int = 6000
    """Seeds are cut to this many characters (at a sentence end) before rewriting."""
    features_per_doc: int = 8
    """Features recomposed into one knowledge_list or exercises document."""
    docs_per_summary: int = 4
    """Seed documents behind one cross-document summary."""
    rows_per_block: int = 64
    """Tasks per batch in map_batches, and per resumable unit."""

    def validate(self) -> None:
        if self.min_chars < 0 or self.max_chars <= self.min_chars:
            raise ValueError(f"need 0 <= min_chars < max_chars, got {self.min_chars} and {self.max_chars}")
        if self.copy_threshold != -1 and not 0.0 < self.copy_threshold <= 1.0:
            raise ValueError(f"copy_threshold must be in (0, 1] or -1, got {self.copy_threshold}")
        for name in ("max_seed_chars", "features_per_doc", "rows_per_block"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.docs_per_summary < 2:
            raise ValueError(f"docs_per_summary must be at least 2, got {self.docs_per_summary}")
