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
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")


@dataclass(frozen=True, kw_only=True)
class OpenAIBackendConfig:
    """An OpenAI-compatible chat-completions server (vLLM, Ollama, SGLang, hosted APIs)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    """Server base URL, up to and including /v1."""
    model: str = "default"
    """Model name sent with each request."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (never put the key itself in the config)."""
    concurrency: int = 8
    """Requests in flight at once."""
    timeout_s: float = 60.0
    """Per-request timeout."""
    max_retries: int = 5
    """Retries on 429, 5xx, timeouts and malformed answers (exponential backoff with jitter)."""
    temperature: float = 0.7
    max_tokens: int = 1024

    def validate(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")


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
