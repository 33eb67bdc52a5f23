"""Every surrogate by name, and making, saving and loading them by that name."""

from __future__ import annotations

from pathlib import Path

from automixer.mixing.config import SURROGATE_NAMES
from automixer.mixing.surrogates._base import SurrogateBase
from automixer.mixing.surrogates._ensemble import EnsembleSurrogate
from automixer.mixing.surrogates._mde import MDE_MODELS
from automixer.mixing.surrogates._models import BASE_MODELS
from automixer.mixing.surrogates._persist import load_model, make_model, save_model

REGISTRY: dict[str, type[SurrogateBase]] = {**BASE_MODELS, "ensemble": EnsembleSurrogate}
assert tuple(REGISTRY) == SURROGATE_NAMES, "automixer.mixing.config.SURROGATE_NAMES must list the registry"
_SAVED = {**REGISTRY, **MDE_MODELS}
"""What a surrogate folder may hold: also the MDE surrogates, which fit adds itself (they need experts)."""


def make_surrogate(name: str, random_state: int = 0) -> SurrogateBase:
    """A fresh surrogate by registry name; ``random_state`` goes to those that take one."""
    return make_model(REGISTRY, name, random_state)


def save_surrogate(model: SurrogateBase, folder: Path | str) -> Path:
    """Write a fitted surrogate to ``folder`` (model.json + npy/text files)."""
    return save_model(_SAVED, model, folder)


def load_surrogate(folder: Path | str) -> SurrogateBase:
    """Read a surrogate written by ``save_surrogate``."""
    return load_model(_SAVED, folder)
