"""Surrogates that read the MDE estimate (automixer/mixing/mde.py) of their metric beside, or instead of, the weights.

Both take mixture weights as input like every surrogate, and compute the estimate themselves from the stored
expert probabilities named by their ``experts`` and ``components`` parameters. So cross-validation, ``predict``,
``optimize``, the influence table and ``sweep --next`` need nothing beyond the weights, and a saved surrogate
records where its experts are (``model.json``) with a fingerprint of them, checked before predicting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from automixer.mixing.mde import load_estimator
from automixer.mixing.surrogates._base import SurrogateBase
from automixer.mixing.surrogates._models import BASE_MODELS
from automixer.mixing.surrogates._persist import load_model, make_model, save_model
from dataplane.errors import InputError

MDE_BASES = ("gp", "linear", "loglinear", "sqrt_linear", "lightgbm")
"""Surrogates that take the estimate as one more input (the laws are functions of the weights alone)."""


class _MDEInput(SurrogateBase):
    """The MDE estimate of the experts for the weight rows; shared by both surrogates."""

    def _estimate(self, X_NC: np.ndarray) -> np.ndarray:
        if len(self.components) != X_NC.shape[1]:
            raise ValueError(f"{X_NC.shape[1]} weight columns for {len(self.components)} components {self.components}")
        est = load_estimator(self.experts, list(self.components))
        seen = getattr(self, "experts_fingerprint_", None)
        if seen is not None and est.store.fingerprint != seen:
            raise InputError(f"{self.experts}: the experts changed since this surrogate was fitted; "
                             "re-run automixer fit")
        return est.estimate_one(X_NC, self.estimate)

    def _remember_experts(self) -> None:
        self.experts_fingerprint_ = load_estimator(self.experts, list(self.components)).store.fingerprint


class MDEFeatureSurrogate(_MDEInput):
    """A single-model surrogate on the weights plus the MDE estimate of its metric as one more column.

    base: registry name of that surrogate (one of ``MDE_BASES``).
    experts: folder of the experts' stored probabilities (``<workdir>/experts``).
    components: names of the weight columns, in order (one expert each).
    estimate: the MDE estimate used (``code_bpb``, ``math_loss``, ...; automixer.mixing.mde).
    random_state: passed to the base surrogate if it takes one.
    The estimate enters rescaled so the training runs span [1, 2] (like a weight's range, positive for the
    weight transforms); mixtures beyond the runs' range extrapolate on the same scale.
    """

    provides_std = True

    def __init__(self, *, base="gp", experts="", components=(), estimate="", random_state=0):
        self.base = base
        self.experts = experts
        self.components = components
        self.estimate = estimate
        self.random_state = random_state

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """What the base surrogate reads: the weights and the rescaled estimate as one more column."""
        scaled = 1.0 + (self._estimate(X) - self.low_) / self.span_
        return np.column_stack([X, scaled])

    def _fit(self, X, y):
        if self.base not in MDE_BASES:
            raise ValueError(f"unknown base {self.base!r} for MDE features; expected one of {', '.join(MDE_BASES)}")
        self._remember_experts()
        m = self._estimate(X)
        self.low_, self.span_ = float(m.min()), float(np.ptp(m)) or 1.0
        self.base_ = make_model(BASE_MODELS, self.base, self.random_state).fit(self.inputs(X), y)

    def _predict(self, X, return_std):
        return self.base_.predict(self.inputs(X), return_std=return_std)

    def _state(self):
        return {"low": self.low_, "span": self.span_, "experts_fingerprint": self.experts_fingerprint_}, {}

    def save_state(self, folder: Path) -> dict:
        state = super().save_state(folder)
        save_model(BASE_MODELS, self.base_, folder / "base")
        return state

    def _restore(self, state, arrays, folder):
        self.low_, self.span_ = state["low"], state["span"]
        self.experts_fingerprint_ = state["experts_fingerprint"]
        self.base_ = load_model(BASE_MODELS, folder / "base")


class MDECalibratedSurrogate(_MDEInput):
    """"MDE alone": the MDE estimate of the metric, calibrated to it by a monotone affine fit ``y = a + b * mde``
    (least squares; ``b`` of either sign). It ranks mixtures exactly as the estimate does.

    experts, components, estimate: as for ``MDEFeatureSurrogate``.
    The std is the leave-one-out error of the fit (closed form), the same everywhere.
    """

    provides_std = True

    def __init__(self, *, experts="", components=(), estimate=""):
        self.experts = experts
        self.components = components
        self.estimate = estimate

    def n_parameters(self, n_components: int) -> int:
        return 2

    def _fit(self, X, y):
        self._remember_experts()
        m = self._estimate(X)
        A = np.column_stack([np.ones(len(m)), m])
        (self.intercept_, self.slope_), *_ = np.linalg.lstsq(A, y, rcond=None)
        hat = np.einsum("ij,jk,ik->i", A, np.linalg.pinv(A.T @ A), A)
        resid = (y - A @ np.r_[self.intercept_, self.slope_]) / np.clip(1.0 - hat, 1e-6, None)
        self.loo_rmse_ = float(np.sqrt(np.mean(resid**2)))

    def _predict(self, X, return_std):
        mean = self.intercept_ + self.slope_ * self._estimate(X)
        return (mean, np.full(len(X), self.loo_rmse_)) if return_std else mean

    def _state(self):
        return {"intercept": float(self.intercept_), "slope": float(self.slope_), "loo_rmse": self.loo_rmse_,
                "experts_fingerprint": self.experts_fingerprint_}, {}

    def _restore(self, state, arrays, folder):
        self.intercept_, self.slope_, self.loo_rmse_ = state["intercept"], state["slope"], state["loo_rmse"]
        self.experts_fingerprint_ = state["experts_fingerprint"]


MDE_MODELS = {"mde": MDECalibratedSurrogate, "with_mde": MDEFeatureSurrogate}
"""Registry names under which they are saved (``model.json``)."""


def mde_candidates(names, experts: Path | str, components: list[str], estimate: str, random_state: int = 0) -> dict:
    """CV candidates reading the estimate ``estimate``: ``<name>+mde`` for each name in ``names`` that can take
    it (``MDE_BASES``), and ``mde`` (the estimate alone, calibrated)."""
    common = {"experts": str(Path(experts).resolve()), "components": tuple(components), "estimate": estimate}
    out = {f"{n}+mde": MDEFeatureSurrogate(base=n, random_state=random_state, **common)
           for n in names if n in MDE_BASES}
    out["mde"] = MDECalibratedSurrogate(**common)
    return out
