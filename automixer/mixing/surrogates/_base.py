"""Shared pieces of the surrogate estimators: input checks, weight transforms, state I/O.

Shape legend: N mixtures, C components. ``X_NC`` holds mixture weights (rows on the simplex).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from dataplane.errors import InputError

TRANSFORMS = ("none", "sqrt", "log", "clr")
_EPS = 1e-3


def transform_weights(X_NC: np.ndarray, kind: str) -> np.ndarray:
    """Map weights to model features: none, sqrt, log(w + eps) or centred log-ratio."""
    if kind == "none":
        return X_NC
    if kind == "sqrt":
        return np.sqrt(np.clip(X_NC, 0.0, None))
    logs = np.log(np.clip(X_NC, 0.0, None) + _EPS)
    if kind == "log":
        return logs
    if kind == "clr":
        return logs - logs.mean(axis=1, keepdims=True)
    raise ValueError(f"unknown weight transform {kind!r}; expected one of {', '.join(TRANSFORMS)}")


class SurrogateBase(RegressorMixin, BaseEstimator):
    """Base of every surrogate: sklearn estimator contract plus portable save/load.

    Subclasses implement ``_fit(X, y)``, ``_predict(X, return_std)``, ``_state()`` (JSON-able dict and
    a dict of arrays) and ``_restore(state, arrays, folder)``. ``provides_std`` says whether
    ``predict(X, return_std=True)`` is supported.
    """

    provides_std = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # mixture weights
        return tags

    def fit(self, X, y):
        """Validate the weights and targets, fit, return self."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        if (X < 0).any():
            raise ValueError(f"Negative values in data passed to {type(self).__name__}: mixture weights must be >= 0, "
                             f"got min {X.min():.4g}")
        if X.shape[0] < 3:
            raise ValueError(f"need at least 3 runs to fit a surrogate, got n_samples={X.shape[0]}")
        self._fit(X, y)
        return self

    def predict(self, X, return_std: bool = False):
        """Predicted metric per mixture; with ``return_std`` also its standard deviation."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if return_std and not self.provides_std:
            raise ValueError(f"{type(self).__name__} gives no uncertainty")
        return self._predict(X, return_std)

    def n_parameters(self, n_components: int) -> int | None:
        """Free parameters fitted from runs over ``n_components`` weights, or None where a cross-validated
        penalty or a prior sets the model's effective size (then no minimum number of mixtures applies)."""
        return None

    # --- persistence ------------------------------------------------------------------------
    def save_state(self, folder: Path) -> dict:
        """Write arrays as .npy under ``folder``; return the JSON-able state."""
        check_is_fitted(self)
        state, arrays = self._state()
        folder.mkdir(parents=True, exist_ok=True)
        for key, arr in arrays.items():
            np.save(folder / f"{key}.npy", np.asarray(arr), allow_pickle=False)
        state = dict(state, n_features_in_=int(self.n_features_in_), arrays=sorted(arrays))
        return state

    def load_state(self, folder: Path, state: dict) -> "SurrogateBase":
        """Restore a fitted model written by ``save_state`` (never unpickles)."""
        arrays = {k: _load_array(folder / f"{k}.npy") for k in state.get("arrays", [])}
        self.n_features_in_ = int(state["n_features_in_"])
        self._restore(state, arrays, folder)
        return self


def _load_array(path: Path) -> np.ndarray:
    """One saved array; InputError naming the file when it is missing or not a plain .npy array."""
    if not path.is_file():
        raise InputError(f"{path}: missing; the surrogate folder is incomplete (re-run automixer fit)")
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise InputError(f"{path}: not a .npy array (no NumPy header); re-run automixer fit")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable .npy array ({reason}); re-run automixer fit") from None
