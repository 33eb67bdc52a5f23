"""One metric's model for ``sweep --next``, which can be conditioned on pending picks ("kriging believer").

Shape legend: N runs, Q candidates, R reference mixtures, C components, P parameters.

Every believer answers the same three questions, in the metric's own units:
- ``predict(cand_QC)``: mean and std of each candidate;
- ``variance_reduction(cand_QC, ref_RC, var_Q)``: how much the predictive variance summed over the reference
  mixtures would drop if each candidate were trained, sum_r cov(r, x)^2 / var(x) (the integrated-variance
  criterion, which prefers mixtures that teach about many others over lone outliers with a large std);
- ``add(x_C, y)``: condition on a pick at its predicted value, so the next pick of a batch counts it.

Two kinds (``sweep.next_model``):
- ``power_law``: the power law of surrogates/_power_law.py, linearised around its least-squares fit
  (Gauss-Newton): its parameters get a Gaussian posterior with the fit's ridge as prior and the fit's
  out-of-fold error as noise; a candidate's variance is that noise plus g S g' (g the law's gradient in
  its parameters). It aims the picks at what the law, the surrogate ``fit`` keeps most often on real
  swarms, still does not know.
- ``gp``: the Gaussian process of surrogates/_models.py; conditioning keeps its kernel hyperparameters. Given
  ``mde`` (the experts' folder, the components, the metric's estimate), it also reads the metric's MDE estimate
  of each mixture as one more input (surrogates/_mde.py), as ``fit.features`` does for the surrogates.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_solve
from sklearn.gaussian_process import GaussianProcessRegressor

from automixer.mixing.surrogates import GPSurrogate, MDEFeatureSurrogate, PowerLawSurrogate, transform_weights

FLAT_PRECISION = 1e-6
"""Prior precision of the power law's c, k, alpha and tau (flat: the data decide them)."""


class LawBeliever:
    """A power law on one metric with a Gaussian posterior over its parameters (linearised)."""

    def __init__(self, X_NC: np.ndarray, y_N: np.ndarray, seed: int, mde: tuple | None = None):
        """``seed`` and ``mde`` are unused (the least-squares fit is deterministic; the law reads weights only);
        they keep GPBeliever's signature."""
        self.model = PowerLawSurrogate().fit(X_NC, y_N)
        self.noise = self.model.predict(X_NC[:1], return_std=True)[1][0] ** 2 + 1e-12
        g_NP = self.model.gradient(X_NC)
        ridge = self.model.l2 * y_N.var() / self.noise  # the fit's penalty l2 * b^2 on the standardised target
        prior_P = np.r_[np.full(4, FLAT_PRECISION), np.full(X_NC.shape[1], ridge)]
        self.cov_PP = np.linalg.pinv(g_NP.T @ g_NP / self.noise + np.diag(prior_P), hermitian=True)

    def predict(self, cand_QC: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g_QP = self.model.gradient(cand_QC)
        return self.model.predict(cand_QC), np.sqrt(self.noise + np.einsum("qi,ij,qj->q", g_QP, self.cov_PP, g_QP))

    def variance_reduction(self, cand_QC: np.ndarray, ref_RC: np.ndarray, var_Q: np.ndarray) -> np.ndarray:
        cov_RQ = self.model.gradient(ref_RC) @ self.cov_PP @ self.model.gradient(cand_QC).T
        return (cov_RQ**2).sum(0) / np.maximum(var_Q, 1e-12)

    def add(self, x_C: np.ndarray, y: float) -> None:
        """A rank-one update of the parameter posterior (the linearised law's mean does not move)."""
        g_P = self.model.gradient(x_C[None])[0]
        s_P = self.cov_PP @ g_P
        self.cov_PP = self.cov_PP - np.outer(s_P, s_P) / (self.noise + g_P @ s_P)


class GPBeliever:
    """A GP on one metric that can be conditioned on pending picks at their predicted value."""

    def __init__(self, X_NC: np.ndarray, y_N: np.ndarray, seed: int, mde: tuple | None = None):
        if mde:
            experts, components, estimate = mde
            outer = MDEFeatureSurrogate(base="gp", experts=str(experts), components=tuple(components),
                                        estimate=estimate, random_state=seed).fit(X_NC, y_N)
            self.model, self.inputs = outer.base_, outer.inputs
        else:
            self.model, self.inputs = GPSurrogate(random_state=seed).fit(X_NC, y_N), (lambda X: X)
        self.X, self.y = X_NC, y_N
        self.gp = self.model.gp_

    def _z(self, X_NC: np.ndarray) -> np.ndarray:
        """The GP's inputs of weight rows (transformed weights, and the MDE estimate where given)."""
        return transform_weights(self.inputs(X_NC), self.model.weight_transform)

    def predict(self, cand_QC: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.predict(self._z(cand_QC), return_std=True)

    def variance_reduction(self, cand_QC: np.ndarray, ref_RC: np.ndarray, var_Q: np.ndarray) -> np.ndarray:
        Zx, Zq, Zr = (self._z(a) for a in (self.X, cand_QC, ref_RC))
        k = self.gp.kernel_
        cov_RQ = (k(Zr, Zq) - k(Zx, Zr).T @ cho_solve((self.gp.L_, True), k(Zx, Zq))) * self.gp._y_train_std ** 2
        return (cov_RQ**2).sum(0) / np.maximum(var_Q, 1e-12)

    def add(self, x_C: np.ndarray, y: float) -> None:
        self.X, self.y = np.vstack([self.X, x_C]), np.append(self.y, y)
        gp = GaussianProcessRegressor(self.gp.kernel_, normalize_y=True, optimizer=None)
        self.gp = gp.fit(self._z(self.X), self.y)


BELIEVERS = {"power_law": LawBeliever, "gp": GPBeliever}
