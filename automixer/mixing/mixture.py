"""The mixture YAML the full training run reads (written by ``automixer optimize``).

Layout (top-down): ``mixture`` (per component: weight, tokens for the budget, epochs, token file, shards),
``token_budget``, ``predicted`` (per metric: mean, std), ``objective``, ``baselines`` (natural and
uniform mixtures' predictions), ``solver``, ``trust_region``, ``provenance``, ``validation``.
``write_megatron_blend`` exports Megatron-LM's ``--data-path`` weight/path pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dataplane.errors import InputError

SUM_TOL = 1e-6


@dataclass
class Mixture:
    """Weights per component plus what the optimizer knows about them. Validates on creation."""

    weights: dict[str, float]
    """Component -> weight; non-negative, summing to 1."""
    token_budget: int = 0
    """Tokens of the full run (0: unknown, so no token counts)."""
    available_tokens: dict[str, int] = field(default_factory=dict)
    """Component -> tokens it holds (for epochs); missing where unknown."""
    token_files: dict[str, str] = field(default_factory=dict)
    """Component -> its packed token file (from the components table)."""
    shards: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    """Component -> shards it is drawn from: {path, filter} (the SQL filter that selects it)."""
    predicted: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """Metric -> {mean, std} (std null where the surrogate gives none)."""
    objective: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    """natural / uniform -> {weights, predicted, objective}."""
    solver: dict[str, Any] = field(default_factory=dict)
    """name (the winner) and every solver's objective value."""
    trust_region: dict[str, float] = field(default_factory=dict)
    """distance (L1 to the nearest sampled mixture) and limit."""
    provenance: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.weights:
            raise ValueError("a mixture needs at least one component, got none")
        bad = {
            c: w for c, w in self.weights.items() if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0
        }
        if bad:
            raise ValueError(f"mixture weights must be finite numbers >= 0, got {bad}")
        total = sum(self.weights.values())
        if abs(total - 1.0) > SUM_TOL:
            raise ValueError(f"mixture weights must sum to 1, got {total:.8g} ({self.weights})")
        self.weights = {c: float(w) for c, w in self.weights.items()}

    def tokens(self, component: str) -> int:
        """Tokens of ``component`` in the full run."""
        return int(round(self.weights[component] * self.token_budget))

    def epochs(self, component: str) -> float | None:
        """How many times the full run reads the component's tokens (None if its size is unknown)."""
        available = self.available_tokens.get(component)
        return round(self.tokens(component) / available, 4) if available else None

    # --- YAML -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        mixture = {}
        for c, w in self.weights.items():
            entry: dict[str, Any] = {"weight": w}
            if self.token_budget:
                entry["tokens"] = self.tokens(c)
            if c in self.available_tokens:
                entry["available_tokens"] = int(self.available_tokens[c])
                entry["epochs"] = self.epochs(c)
            if c in self.token_files:
                entry["token_file"] = self.token_files[c]
            if self.shards.get(c):
                entry["shards"] = list(self.shards[c])
            mixture[c] = entry
        out: dict[str, Any] = {"mixture": mixture, "token_budget": int(self.token_budget)}
        for key in ("predicted", "objective", "baselines", "solver", "trust_region", "provenance", "validation"):
            out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Mixture":
        if not isinstance(data, dict) or not isinstance(data.get("mixture"), dict):
            raise ValueError("expected a mapping with a 'mixture' mapping (component -> {weight, ...})")
        comps = data["mixture"]
        missing = [c for c, e in comps.items() if not isinstance(e, dict) or "weight" not in e]
        if missing:
            raise ValueError(f"mixture.{missing[0]}: expected a mapping with a 'weight'")
        return cls(
            weights={c: e["weight"] for c, e in comps.items()},
            token_budget=int(data.get("token_budget") or 0),
            available_tokens={c: e["available_tokens"] for c, e in comps.items() if "available_tokens" in e},
            token_files={c: e["token_file"] for c, e in comps.items() if e.get("token_file")},
            shards={c: list(e["shards"]) for c, e in comps.items() if e.get("shards")},
            **{
                k: data.get(k) or {}
                for k in ("predicted", "objective", "baselines", "solver", "trust_region", "provenance")
            },
            validation=data.get("validation"),
        )

    def to_yaml(self) -> str:
        return yaml.safe_dump(_plain(self.to_dict()), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> "Mixture":
        return cls.from_dict(yaml.safe_load(text))

    def save(self, path: Path | str) -> Path:
        from dataplane.store import atomic_write_text

        return atomic_write_text(Path(path), self.to_yaml())

    @classmethod
    def load(cls, path: Path | str) -> "Mixture":
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: mixture file not found")
        try:
            return cls.from_yaml(path.read_text(encoding="utf-8"))
        except (ValueError, yaml.YAMLError) as exc:
            raise InputError(f"{path}: not a mixture YAML: {exc}") from None

    # --- exports ----------------------------------------------------------------------------
    def megatron_blend(self) -> str:
        """Megatron-LM ``--data-path`` blend: one ``weight path`` pair per line (token file, else first shard).

        These are AutoMixer's proxy-tokenizer files and shares of proxy tokens; ``automixer export`` writes the
        full run's Megatron-Core data (``.bin``/``.idx``) and its blend in the full run's token shares.
        """
        lines = [
            "# Megatron-LM data blend written by automixer optimize: pass as --data-path $(grep -v '^#' FILE)",
            "# (proxy-tokenizer files; for the full run: automixer export CONFIG --mixture FILE --tokenizer T --out D)",
        ]
        for c, w in self.weights.items():
            if w <= 0:
                continue
            shards = self.shards.get(c) or [{"path": c}]
            lines.append(f"{w:.6f} {_prefix(self.token_files.get(c) or shards[0]['path'])}")
        return "\n".join(lines) + "\n"

    def write_megatron_blend(self, path: Path | str) -> Path:
        from dataplane.store import atomic_write_text

        return atomic_write_text(Path(path), self.megatron_blend())


def _prefix(path: str) -> str:
    for suffix in (".bin", ".idx", ".npy"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def _plain(value: Any) -> Any:
    """Numpy scalars and tuples to plain YAML types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value
