"""Weighted mean of several surrogates, weighted by their out-of-fold error; the spread is the uncertainty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from automixer.mixing.surrogates._base import SurrogateBase
from automixer.mixing.surrogates._models import BASE_MODELS
from automixer.mixing.surrogates._persist import load_model, make_model, save_model
from automixer.mixing.surrogates._selection import inner_oof, underdetermined

WEIGHTINGS = ("equal", "inverse_error", "stacked")


class EnsembleSurrogate(SurrogateBase):
    """Weighted average of member surrogates (names from the registry).

    members: names of single-model surrogates (``BASE_MODELS``); the ensemble may not contain itself. A
        member with at least as many free parameters as distinct mixtures is left out (``member_names_``
        are those fitted), unless all would be.
    weighting: inverse_error (weights 1 / out-of-fold mean squared error); equal; or stacked (non-negative
        least squares of y on the members' out-of-fold predictions, scaled to sum 1). Every member's
        out-of-fold predictions come from the same inner grouped 5-fold, so their errors compare (a GP's
        closed-form leave-one-out error, trained on one run fewer, looks better than a 5-fold one).
    random_state: passed to members that take one.
    The std is the law of total variance over members, with the same weights: weighted mean of member
    variances plus the weighted variance of member means.
    """

    provides_std = True

    def __init__(self, *, members=("gp", "power_law"), weighting="inverse_error", random_state=0):
        self.members = members
        self.weighting = weighting
        self.random_state = random_state

    def _fit(self, X, y):
        if not self.members or "ensemble" in self.members:
            raise ValueError(f"ensemble members must be non-empty and not include 'ensemble', got {self.members!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown ensemble weighting {self.weighting!r}; expected one of {', '.join(WEIGHTINGS)}")
        unfitted = {name: make_model(BASE_MODELS, name, self.random_state) for name in self.members}
        too_big = underdetermined(unfitted, X)
        self.member_names_ = [name for name in self.members if name not in too_big] or list(self.members)
        self.estimators_ = [unfitted[name].fit(X, y) for name in self.member_names_]
        self.weights_ = self._weights(X, y)

    def n_parameters(self, n_components: int) -> int | None:
        """None when a member's size is set by a penalty or prior (members with too many parameters for the
        runs are left out at fit time, so that member remains); else the largest member's."""
        sizes = [make_model(BASE_MODELS, name).n_parameters(n_components) for name in self.members]
        return None if None in sizes else max(sizes)

    def _oof(self, name: str, X, y) -> np.ndarray:
        return inner_oof(lambda a, b: make_model(BASE_MODELS, name, self.random_state).fit(a, b).predict, X, y,
                         self.random_state)

    def _weights(self, X, y) -> np.ndarray:
        m = len(self.estimators_)
        if self.weighting == "equal" or m == 1:
            return np.full(m, 1.0 / m)
        oof_NM = np.column_stack([self._oof(name, X, y) for name in self.member_names_])
        mse = np.mean((oof_NM - y[:, None]) ** 2, axis=0)
        inverse = 1.0 / np.maximum(mse, 1e-12)
        if self.weighting == "stacked":
            # Centre both sides so the fit is about shape, not level; NNLS then rescale to a convex mix.
            w, _ = nnls(oof_NM - oof_NM.mean(0), y - y.mean())
            if w.sum() > 0:
                return w / w.sum()
        return inverse / inverse.sum()

    def _predict(self, X, return_std):
        means, variances = [], []
        for est in self.estimators_:
            mean, std = est.predict(X, return_std=True) if est.provides_std else (est.predict(X), np.zeros(len(X)))
            means.append(mean)
            variances.append(std**2)
        means_MN = np.asarray(means)
        w = self.weights_[:, None]
        mean_N = (w * means_MN).sum(axis=0)
        if not return_std:
            return mean_N
        spread = (w * (means_MN - mean_N) ** 2).sum(axis=0)
        return mean_N, np.sqrt((w * np.asarray(variances)).sum(axis=0) + spread)

    def _state(self):
        return {"member_names": self.member_names_}, {"weights": self.weights_}

    def save_state(self, folder: Path) -> dict:
        state = super().save_state(folder)
        for i, est in enumerate(self.estimators_):
            save_model(BASE_MODELS, est, folder / f"member_{i}")
        state["member_dirs"] = [f"member_{i}" for i in range(len(self.estimators_))]
        return state

    def _restore(self, state, arrays, folder):
        self.estimators_ = [load_model(BASE_MODELS, folder / d) for d in state["member_dirs"]]
        self.member_names_ = state["member_names"]
        self.weights_ = arrays["weights"]
