"""Mean of several surrogates; its spread (plus the members' own variance) is the uncertainty."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from automixer.mixing.surrogates._base import SurrogateBase
from automixer.mixing.surrogates._models import BASE_MODELS
from automixer.mixing.surrogates._persist import load_model, make_model, save_model


class EnsembleSurrogate(SurrogateBase):
    """Average of member surrogates (names from the registry).

    members: names of single-model surrogates (``BASE_MODELS``); the ensemble may not contain itself.
    random_state: passed to members that take one.
    The std is the law of total variance over members: mean of member variances (0 for members without
    uncertainty) plus the variance of member means.
    """

    provides_std = True

    def __init__(self, *, members=("lightgbm", "gp", "linear", "mixing_law"), random_state=0):
        self.members = members
        self.random_state = random_state

    def _fit(self, X, y):
        if not self.members or "ensemble" in self.members:
            raise ValueError(f"ensemble members must be non-empty and not include 'ensemble', got {self.members!r}")
        self.estimators_ = [make_model(BASE_MODELS, name, self.random_state).fit(X, y) for name in self.members]

    def _predict(self, X, return_std):
        means, variances = [], []
        for est in self.estimators_:
            if est.provides_std:
                mean, std = est.predict(X, return_std=True)
                variances.append(std**2)
            else:
                mean = est.predict(X)
                variances.append(np.zeros(len(X)))
            means.append(mean)
        means_MN = np.asarray(means)
        mean_N = means_MN.mean(axis=0)
        if not return_std:
            return mean_N
        return mean_N, np.sqrt(np.mean(variances, axis=0) + means_MN.var(axis=0))

    def _state(self):
        return {}, {}

    def save_state(self, folder: Path) -> dict:
        state = super().save_state(folder)
        for i, est in enumerate(self.estimators_):
            save_model(BASE_MODELS, est, folder / f"member_{i}")
        state["member_dirs"] = [f"member_{i}" for i in range(len(self.estimators_))]
        return state

    def _restore(self, state, arrays, folder):
        self.estimators_ = [load_model(BASE_MODELS, folder / d) for d in state["member_dirs"]]
