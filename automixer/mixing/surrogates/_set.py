"""A fitted surrogate per target, read and written as one folder (what ``automixer fit --out`` holds).

Layout: ``surrogates.json`` (components, per-target model name, direction, normalisation, CV scores,
provenance), one sub-folder per target (``save_surrogate``), ``runs.parquet`` (the runs it was fitted on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from automixer.mixing.surrogates._registry import load_surrogate, save_surrogate
from dataplane.errors import InputError

MANIFEST = "surrogates.json"


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
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "SurrogateSet":
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.exists():
            raise InputError(f"{folder}: no {MANIFEST}; expected a folder written by automixer fit --out")
        data = json.loads(path.read_text(encoding="utf-8"))
        targets = {
            metric: TargetModel(metric, t["surrogate"], load_surrogate(folder / t["dir"]), t["higher_is_better"],
                                t["center"], t["scale"], t.get("cv", {}))
            for metric, t in data["targets"].items()
        }
        return cls(list(data["components"]), targets, data.get("meta", {}))


def _slug(metric: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in metric)
