"""Configuration of mixing components, evaluation sets and the proxy sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional


@dataclass(frozen=True, kw_only=True)
class ComponentsConfig:
    """How curated documents are grouped into mixing components."""

    by: Literal["source_bucket", "source"] = "source_bucket"
    """Default grouping: ``source.q<bucket>`` (plus ``synth.<strategy>``), or one per source."""
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Optional renames/merges: new component name -> default component names (globs allowed)."""


@dataclass(frozen=True, kw_only=True)
class EvalSetConfig:
    """A held-out evaluation set for one capability group."""

    group: str
    """Capability group (code, math, stem, commonsense, ...)."""
    path: str
    """JSONL (.gz) file."""
    format: Literal["text", "choices"] = "text"
    """text: score loss on a text field; choices: multiple choice."""
    text_field: str = "text"
    """Text field (format text), or the prompt/context field (format choices)."""
    choices_field: str = "choices"
    """List of choice strings (format choices)."""
    label_field: str = "label"
    """Index of the right choice (format choices)."""
    max_items: int = 200
    """Items used (the first ones)."""


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """Mixture sampling and the proxy swarm."""

    num_proxies: int = 8
    """Sampled mixtures (one proxy each); about 60 for a real sweep."""
    concentrations: tuple[float, ...] = (0.3, 1.0, 3.0)
    """Dirichlet concentration levels around the natural distribution."""
    space_filling_share: float = 0.25
    """Share of the mixtures drawn from a space-filling design over the simplex."""
    seed_repeats: int = 2
    """Mixtures trained with a second seed to measure seed noise against mixture spread."""
    max_retries: int = 1
    """Retries of a failed proxy before it is recorded as failed."""
    gpus_per_proxy: float = 0.25
    """GPU fraction per proxy when the cluster has GPUs."""
    min_weight: dict[str, float] = field(default_factory=dict)
    """Per-component lower bounds (component name -> weight)."""
    max_weight: dict[str, float] = field(default_factory=dict)
    """Per-component upper bounds."""
    eval: tuple[EvalSetConfig, ...] = ()
    """Held-out evaluation sets."""
