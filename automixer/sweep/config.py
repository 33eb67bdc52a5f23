"""Configuration of mixing components, evaluation sets and the proxy sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional, Union


@dataclass(frozen=True, kw_only=True)
class ComponentsConfig:
    """How curated documents are grouped into mixing components."""

    by: Literal["source_bucket", "source"] = "source_bucket"
    """Default grouping: ``source.q<bucket>`` (plus ``synth.<strategy>``), or one per source."""
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Optional renames/merges: new component name -> default component names (globs allowed)."""

    def validate(self) -> None:
        for name, patterns in self.groups.items():
            if not name or "/" in name or not patterns:
                raise ValueError(f"groups.{name}: needs a name without '/' and at least one pattern")


@dataclass(frozen=True, kw_only=True)
class EvalSetConfig:
    """A held-out evaluation set for one capability group."""

    group: str
    """Capability group (code, math, stem, commonsense, ...)."""
    path: str
    """JSONL (.gz) file."""
    format: Literal["text", "choices"] = "text"
    """text: score loss on a text field; choices: multiple choice."""
    text_field: Union[str, tuple[str, ...]] = "text"
    """Text field (format text), or the prompt/context field (format choices); a list of fields is
    joined with a newline (e.g. [question, answer])."""
    choices_field: Union[str, tuple[str, ...]] = "choices"
    """Field holding the list of choice strings, or a list of fields holding one choice each
    (e.g. [sol1, sol2])."""
    label_field: str = "label"
    """Index of the right choice (format choices)."""
    choices_are: Literal["endings", "contexts"] = "endings"
    """endings: each choice continues the context (scored on the choice); contexts: each choice is
    a context and text_field the shared continuation scored after it (winogrande)."""
    choice_prefix: str = ""
    """Put between the context and a choice (e.g. " " or "\\nAnswer: "); its trailing spaces start the
    scored choice, the rest is context."""
    max_items: int = 200
    """Items used (the first ones)."""
    accuracy: bool = True
    """format choices: also score every choice for ``<group>_acc``; false scores only the gold
    continuation (its loss and bits per byte, as Olmix does), at a fraction of the cost."""

    def validate(self) -> None:
        if not self.group or "/" in self.group:
            raise ValueError(f"group must be a non-empty name without '/', got {self.group!r}")
        if self.max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {self.max_items}")


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """Mixture sampling and the proxy swarm."""

    num_proxies: int = 8
    """Sampled mixtures (one proxy each); about 60 for a real sweep."""
    concentrations: tuple[float, ...] = (0.3, 1.0, 3.0)
    """Dirichlet concentration levels around the natural distribution (per component, times the
    number of components: 1.0 spreads like a uniform Dirichlet centred on the natural mixture)."""
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
    eval_overlap: Literal["drop", "error"] = "drop"
    """What to do with evaluation items whose doc_id is also a training document."""
    decontam_ngram: int = 13
    """Drop evaluation items sharing an n-gram of this many words with a training document (the
    count dropped is printed); 0 disables (the doc_id check stays)."""
    save_weights: bool = False
    """Keep each proxy's weights (sweep/proxies/<run_id>/model.pt + config.json)."""
    min_component_tokens: int = 1
    """Components with fewer available tokens are left out of the sweep."""
    natural_first: bool = True
    """Train the natural (token-proportional) mixture as the first proxy."""
    next_model: Literal["power_law", "gp"] = "power_law"
    """Model behind ``sweep --next`` picks, one per objective metric (automixer/mixing/believers.py): the
    power law (linearised) or a GP. On the Olmix swarm the power law's picks saved more proxies (README). With
    the workdir's experts (and ``fit.features`` not ``weights``) the GP also reads each metric's MDE estimate."""
    experts: bool = False
    """Also train one data expert per component (a proxy on that component alone, same size and tokens) and
    store its probabilities of the scored tokens in ``<workdir>/experts`` for the MDE estimate (``fit.features``;
    automixer/mixing/mde.py). Costs one proxy per component."""
    tokenizer: Optional[str] = None
    """Tokenizer JSON; null uses <workdir>/tokenizer.json (written by curate)."""

    def validate(self) -> None:
        if self.num_proxies < 1:
            raise ValueError(f"num_proxies must be at least 1, got {self.num_proxies}")
        if not 0 <= self.seed_repeats <= self.num_proxies:
            raise ValueError(f"seed_repeats must be in [0, num_proxies={self.num_proxies}], got {self.seed_repeats}")
        if not self.concentrations or any(c <= 0 for c in self.concentrations):
            raise ValueError(f"concentrations must be positive numbers, got {list(self.concentrations)}")
        if not 0 <= self.space_filling_share <= 1:
            raise ValueError(f"space_filling_share must be in [0, 1], got {self.space_filling_share}")
        if self.decontam_ngram < 0:
            raise ValueError(f"decontam_ngram must be >= 0 (0 disables), got {self.decontam_ngram}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if not 0 < self.gpus_per_proxy <= 1:
            raise ValueError(f"gpus_per_proxy must be in (0, 1], got {self.gpus_per_proxy}")
        for key, bounds in (("min_weight", self.min_weight), ("max_weight", self.max_weight)):
            for name, w in bounds.items():
                if not 0 <= w <= 1:
                    raise ValueError(f"{key}.{name} must be in [0, 1], got {w}")
        for name, lo in self.min_weight.items():
            if lo > self.max_weight.get(name, 1.0):
                raise ValueError(f"min_weight.{name}={lo} is above max_weight.{name}={self.max_weight[name]}")
        if sum(self.min_weight.values()) > 1:
            raise ValueError(f"min_weight values sum to {sum(self.min_weight.values()):.3f}, above 1")
