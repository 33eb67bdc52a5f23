"""The strategy registry: every rewriting strategy by name.

Seed-heavy strategies reshape one seed document. Pipeline-heavy strategies recompose features
extracted from many documents (synth/features.py). Each strategy has an offline rule (synth/offline.py)
and a prompt template (synth/prompts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its name, kind and what it makes."""

    name: str
    kind: Literal["seed", "pipeline"]
    description: str


_ALL = [
    Strategy("qa", "seed", "diverse question and answer pairs about the seed"),
    Strategy("list", "seed", "the seed's key points as a list"),
    Strategy("dialogue", "seed", "a teacher and a student discussing the seed"),
    Strategy("wiki", "seed", "the seed rephrased as clear encyclopedic prose"),
    Strategy("distill", "seed", "a shorter, denser version of the seed"),
    Strategy("knowledge_list", "pipeline", "facts and definitions from several documents as a list"),
    Strategy("exercises", "pipeline", "exercises with answers built from extracted features"),
    Strategy("summary", "pipeline", "a summary across several documents"),
]
STRATEGIES: dict[str, Strategy] = {s.name: s for s in _ALL}


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; a ValueError lists the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}, expected one of {', '.join(STRATEGIES)}") from None


def is_pipeline(name: str) -> bool:
    return get_strategy(name).kind == "pipeline"
