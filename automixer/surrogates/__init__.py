"""Surrogate regressors from mixture weights to a metric (scikit-learn estimators).

Every surrogate follows the sklearn contract (``clone``, ``get_params``, ``fit`` returns self,
``predict`` checks it is fitted) and saves to a folder in portable formats: ``model.json`` (class name,
hyperparameters, scalars), ``*.npy`` arrays and, for LightGBM, its text model. Loading never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path

from automixer.errors import InputError
from automixer.fit_config import SURROGATE_NAMES
from automixer.surrogates._base import SurrogateBase, transform_weights
from automixer.surrogates._ensemble import EnsembleSurrogate
from automixer.surrogates._models import (
    GPSurrogate,
    LightGBMSurrogate,
    LinearSurrogate,
    LogLinearSurrogate,
    MixingLawSurrogate,
)
from automixer.surrogates._selection import CVResult, choose, cross_validate, out_of_fold, score
from automixer.surrogates._set import SurrogateSet, TargetModel

__all__ = [
    "REGISTRY", "SurrogateBase", "LightGBMSurrogate", "GPSurrogate", "LinearSurrogate", "LogLinearSurrogate",
    "MixingLawSurrogate", "EnsembleSurrogate", "CVResult", "make_surrogate", "save_surrogate",
    "load_surrogate", "cross_validate", "choose", "out_of_fold", "score", "transform_weights",
    "SurrogateSet", "TargetModel",
]

REGISTRY: dict[str, type[SurrogateBase]] = {
    "lightgbm": LightGBMSurrogate,
    "gp": GPSurrogate,
    "linear": LinearSurrogate,
    "loglinear": LogLinearSurrogate,
    "mixing_law": MixingLawSurrogate,
    "ensemble": EnsembleSurrogate,
}
assert tuple(REGISTRY) == SURROGATE_NAMES, "fit_config.SURROGATE_NAMES must list the registry"
_NAMES = {cls: name for name, cls in REGISTRY.items()}


def make_surrogate(name: str, random_state: int = 0) -> SurrogateBase:
    """A fresh surrogate by registry name; ``random_state`` goes to those that take one."""
    if name not in REGISTRY:
        raise ValueError(f"unknown surrogate {name!r}; expected one of {', '.join(REGISTRY)}")
    cls = REGISTRY[name]
    return cls(random_state=random_state) if "random_state" in cls._get_param_names() else cls()


def save_surrogate(model: SurrogateBase, folder: Path | str) -> Path:
    """Write a fitted surrogate to ``folder`` (model.json + npy/text files)."""
    folder = Path(folder)
    state = model.save_state(folder)
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params(deep=False).items()}
    meta = {"surrogate": _NAMES[type(model)], "params": params, "state": state}
    (folder / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return folder


def load_surrogate(folder: Path | str) -> SurrogateBase:
    """Read a surrogate written by ``save_surrogate``."""
    folder = Path(folder)
    path = folder / "model.json"
    if not path.exists():
        raise InputError(f"{folder}: no model.json; expected a folder written by automixer fit")
    meta = json.loads(path.read_text(encoding="utf-8"))
    name = meta.get("surrogate")
    if name not in REGISTRY:
        raise InputError(f"{path}: unknown surrogate {name!r}; expected one of {', '.join(REGISTRY)}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
    return REGISTRY[name](**params).load_state(folder, meta["state"])
