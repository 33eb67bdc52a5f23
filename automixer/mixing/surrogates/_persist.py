"""Making, saving and loading surrogates by registry name (the registry is passed in, so no module cycles)."""

from __future__ import annotations

import json
from pathlib import Path

from automixer.mixing.surrogates._base import SurrogateBase
from dataplane.errors import InputError


def make_model(registry: dict[str, type[SurrogateBase]], name: str, random_state: int = 0) -> SurrogateBase:
    """A fresh surrogate by name; ``random_state`` goes to those that take one."""
    if name not in registry:
        raise ValueError(f"unknown surrogate {name!r}; expected one of {', '.join(registry)}")
    cls = registry[name]
    return cls(random_state=random_state) if "random_state" in cls._get_param_names() else cls()


def save_model(registry: dict[str, type[SurrogateBase]], model: SurrogateBase, folder: Path | str) -> Path:
    """Write a fitted surrogate to ``folder`` (model.json + npy/text files)."""
    folder = Path(folder)
    name = next(n for n, cls in registry.items() if type(model) is cls)
    state = model.save_state(folder)
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params(deep=False).items()}
    meta = {"surrogate": name, "params": params, "state": state}
    (folder / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return folder


def load_model(registry: dict[str, type[SurrogateBase]], folder: Path | str) -> SurrogateBase:
    """Read a surrogate written by ``save_model``."""
    folder = Path(folder)
    path = folder / "model.json"
    if not path.exists():
        raise InputError(f"{folder}: no model.json; expected a folder written by automixer fit")
    meta = read_json(path, "a surrogate's model.json")
    name = meta.get("surrogate")
    if name not in registry:
        raise InputError(f"{path}: unknown surrogate {name!r}; expected one of {', '.join(registry)}")
    for key in ("params", "state"):
        if not isinstance(meta.get(key), dict):
            raise InputError(f"{path}: key {key} missing or not a mapping; re-run automixer fit")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
    return registry[name](**params).load_state(folder, meta["state"])


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``; InputError naming the file if it is not UTF-8 JSON holding an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; expected {what} written by automixer fit") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}); "
                         f"expected {what} written by automixer fit") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object ({what}), got {type(data).__name__}")
    return data
