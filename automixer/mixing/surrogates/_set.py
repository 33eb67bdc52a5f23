"""A fitted surrogate per target, read and written as one folder (what ``automixer fit --out`` holds).

Layout: ``surrogates.json`` (components, per-target model name, direction, normalisation, CV scores,
provenance), one sub-folder per target (``save_surrogate``), ``runs.parquet`` (the runs it was fitted on).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from automixer.mixing.runs_table import Runs, parse_runs, read_table_file, table_fingerprint
from automixer.mixing.surrogates._persist import read_json
from automixer.mixing.surrogates._registry import load_surrogate, save_surrogate
from dataplane.errors import InputError
from dataplane.store import atomic_write_text

MANIFEST = "surrogates.json"
RUNS_FILE = "runs.parquet"
_TARGET_KEYS = ("dir", "surrogate", "higher_is_better", "center", "scale")


@dataclass
class TargetModel:
    """The chosen surrogate of one metric and how its values are read."""

    metric: str
    surrogate: str
    model: object
    higher_is_better: bool
    center: float
    """Mean of the measured values (the objective uses z-scores)."""
    scale: float
    """Standard deviation of the measured values (1 if constant)."""
    cv: dict[str, dict[str, float]] = field(default_factory=dict)
    """Candidate name -> {spearman, r2, mae}."""

    @property
    def sign(self) -> float:
        """+1 when lower is better, -1 when higher is better: sign * value is minimised."""
        return -1.0 if self.higher_is_better else 1.0


@dataclass
class SurrogateSet:
    """Fitted surrogates over the same components; ``meta`` holds provenance for the mixture YAML."""

    components: list[str]
    targets: dict[str, TargetModel]
    meta: dict = field(default_factory=dict)
    folder: Path | None = None
    """Where it was loaded from (None until saved or loaded)."""

    def predict(self, X_NC: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """metric -> (mean, std or None) for each mixture (rows in ``components`` order)."""
        out = {}
        for metric, tm in self.targets.items():
            if tm.model.provides_std:
                out[metric] = tm.model.predict(X_NC, return_std=True)
            else:
                out[metric] = (tm.model.predict(X_NC), None)
        return out

    def normalized(self, X_NC: np.ndarray, metrics: list[str] | None = None) -> np.ndarray:
        """(N, M) sign-adjusted z-scores of the predictions: lower is better for every column."""
        metrics = metrics or list(self.targets)
        cols = [self.targets[m].sign * (self.targets[m].model.predict(X_NC) - self.targets[m].center)
                / self.targets[m].scale for m in metrics]
        return np.column_stack(cols)

    def normalized_with_std(self, X_NC: np.ndarray, metrics: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``normalized`` and the std of each column in the same units (0 for models without uncertainty)."""
        metrics = metrics or list(self.targets)
        means, stds = [], []
        for m in metrics:
            tm = self.targets[m]
            if tm.model.provides_std:
                mean, std = tm.model.predict(X_NC, return_std=True)
            else:
                mean, std = tm.model.predict(X_NC), np.zeros(len(X_NC))
            means.append(tm.sign * (mean - tm.center) / tm.scale)
            stds.append(std / tm.scale)
        return np.column_stack(means), np.column_stack(stds)

    def weights_matrix(self, mixtures: list[dict[str, float]]) -> np.ndarray:
        """Rows of weights in ``components`` order; missing components count as 0."""
        unknown = sorted({k for m in mixtures for k in m} - set(self.components))
        if unknown:
            raise InputError(f"unknown component {unknown[0]!r}; surrogates know: {', '.join(self.components)}")
        return np.array([[m.get(c, 0.0) for c in self.components] for m in mixtures], dtype=np.float64)

    # --- persistence ------------------------------------------------------------------------
    def save(self, folder: Path | str) -> Path:
        folder = Path(folder)
        targets = {}
        for metric, tm in self.targets.items():
            sub = _slug(metric)
            save_surrogate(tm.model, folder / sub)
            targets[metric] = {"dir": sub, "surrogate": tm.surrogate, "higher_is_better": tm.higher_is_better,
                               "center": tm.center, "scale": tm.scale, "cv": tm.cv}
        manifest = {"components": self.components, "targets": targets, "meta": self.meta}
        # Written last and atomically: a folder with a surrogates.json is complete.
        atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str))
        self.folder = folder
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "SurrogateSet":
        """Read a folder written by ``save``; InputError naming the file for anything missing or damaged."""
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise InputError(f"{folder}: no {MANIFEST}; expected a folder written by automixer fit --out")
        data = read_json(path, MANIFEST)
        components, targets = data.get("components"), data.get("targets")
        if not (isinstance(components, list) and components and all(isinstance(c, str) for c in components)):
            raise InputError(f"{path}: components: expected a list of component names, got {components!r:.80}")
        if not (isinstance(targets, dict) and targets):
            raise InputError(f"{path}: targets: expected a mapping of metric -> surrogate, got {targets!r:.80}")
        loaded = {metric: _load_target(folder, metric, t, len(components)) for metric, t in targets.items()}
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        return cls(list(components), loaded, meta, folder)

    def check_components(self, components: list[str], where: str) -> None:
        """InputError naming both lists unless ``components`` (of ``where``) are the ones fitted on."""
        if sorted(components) != sorted(self.components):
            raise InputError(f"{where} has components {', '.join(components)}, but the surrogates in "
                             f"{self.folder or 'this set'} were fitted on {', '.join(self.components)}; "
                             "fit surrogates on these components (automixer fit) or pass the matching --surrogate")

    def fitted_runs(self) -> Runs:
        """The runs the surrogates were fitted on (``runs.parquet`` in the folder), checked against the
        fingerprint ``fit`` recorded (folders written before it are read with a warning)."""
        path = Path(self.folder or ".") / RUNS_FILE
        table = read_table_file(path)
        runs = parse_runs(table, str(path))
        recorded = (self.meta.get("runs") or {}).get("fingerprint")
        if recorded is None:
            warnings.warn(f"{self.folder / MANIFEST}: no runs fingerprint (written by an older automixer fit), so "
                          f"{path} is not checked; re-run automixer fit to record it", stacklevel=2)
        elif table_fingerprint(table) != recorded:
            raise InputError(f"{path}: not the runs table the surrogates were fitted on (its fingerprint differs from "
                             f"the one in {MANIFEST}); re-run automixer fit")
        missing = [c for c in self.components if c not in runs.components]
        if missing:
            raise InputError(f"{path}: no mix/ column for {', '.join(missing)}; the surrogates were fitted on "
                             f"{', '.join(self.components)}")
        return runs


def _load_target(folder: Path, metric: str, entry, num_components: int) -> TargetModel:
    """One target's model, checked to predict a finite value at the uniform mixture."""
    where = f"{folder / MANIFEST}: targets.{metric}"
    missing = [k for k in _TARGET_KEYS if not isinstance(entry, dict) or k not in entry]
    if missing:
        raise InputError(f"{where}: missing key {missing[0]}; re-run automixer fit")
    sub = folder / str(entry["dir"])
    try:
        tm = TargetModel(metric, str(entry["surrogate"]), load_surrogate(sub), bool(entry["higher_is_better"]),
                         float(entry["center"]), float(entry["scale"]), entry.get("cv") or {})
        if getattr(tm.model, "n_features_in_", num_components) != num_components:
            raise InputError(f"{sub}: fitted on {tm.model.n_features_in_} components, but {MANIFEST} lists "
                             f"{num_components}; re-run automixer fit")
        value = tm.model.predict(np.full((1, num_components), 1.0 / num_components))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InputError(f"{sub}: cannot load the surrogate of {metric} ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); re-run automixer fit") from None
    if not np.all(np.isfinite(value)):
        raise InputError(f"{sub}: the surrogate of {metric} predicts {value.ravel()[0]} at the uniform mixture; "
                         "its files are damaged: re-run automixer fit")
    return tm


def _slug(metric: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in metric)
