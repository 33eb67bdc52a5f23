"""A power law in the effective amount of relevant data: ``y = c + k * (a . e(w) + 1) ** -alpha``.

Each component i counts ``a_i`` times as much as the baseline (the ``+ 1``) towards the data a metric
learns from; the metric improves as a power of that effective amount, with diminishing returns. With
``alpha`` near 0 this is a log law, ``c - k * alpha * log(1 + a . e)``. A component's weight itself brings
diminishing returns past a fitted ``tau``: ``e(w) = w / (1 + w / tau)``, as when a proxy run repeats a
domain's data or loses the diversity of the others (on the Olmix swarm, runs that pile weight on one domain
score worse than the plain law says). It extrapolates in a sane shape (no runaway exponent), which a kernel
model cannot promise far from its runs.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares
from sklearn.base import clone

from automixer.mixing.surrogates._base import SurrogateBase
from automixer.mixing.surrogates._selection import inner_oof

TAU0 = 0.2
"""Starting saturation weight of the fit."""


def saturated(X: np.ndarray, tau: float) -> np.ndarray:
    """Weights with diminishing returns past ``tau``: ``w / (1 + w / tau)`` (about ``w`` below, ``tau`` far above).
    A ``tau`` that underflowed to 0 counts as 1e-12 (presence only), so a weight of 0 stays 0, not 0 / 0."""
    return X / (1.0 + X / max(tau, 1e-12))


def _tau(log_tau: float) -> float:
    """tau from its log; past ~1e308 it is inf (quietly): no saturation at all, the plain law."""
    with np.errstate(over="ignore"):
        return float(np.exp(log_tau))


def _gradient(term, alpha, tau, a, e, s):
    """d (c + term) / d (c, log k, log alpha, log tau, log a_i), where term = k * s ** -alpha, s = a . e + 1."""
    d_term_d_s = -alpha * term / s
    return np.c_[np.ones(len(s)), term, -term * alpha * np.log(s), d_term_d_s * ((e**2 / tau) @ a),
                 d_term_d_s[:, None] * a * e]


class PowerLawSurrogate(SurrogateBase):
    """``y = c + sign * k * (sum_i a_i e(w_i) + 1) ** -alpha`` with ``k, alpha, tau, a_i > 0``, by least squares.

    The target is standardised; both signs are fitted (a metric that falls or rises with relevant data) and
    the better kept. ``a_i = exp(b_i)``; l2: ridge penalty pulling every ``b_i`` to 0 (a component counts
    like the baseline until the data say otherwise), which keeps 24 of them fittable from 60 runs.
    The std is the out-of-fold error of an inner grouped 5-fold (the same everywhere).
    max_nfev: evaluations per least-squares fit.
    """

    provides_std = True

    def __init__(self, *, l2=1e-3, max_nfev=100):
        self.l2 = l2
        self.max_nfev = max_nfev

    def n_parameters(self, n_components: int) -> int:
        """c, k, alpha, tau and one a per component (the l2 is too weak to set the model's size)."""
        return n_components + 4

    def _fit(self, X, y):
        self._fit_law(X, y)
        self.X_fit_, self.y_fit_ = X, y

    @property
    def oof_pred_(self) -> np.ndarray:
        """Inner grouped 5-fold out-of-fold predictions on the training runs (computed when first asked for:
        cross-validation, which only needs the mean, never pays for them)."""
        if not hasattr(self, "_oof_pred"):
            X, y = self.X_fit_, self.y_fit_
            self._oof_pred = inner_oof(lambda a, b: clone(self)._fit_law(a, b)._mean, X, y, 0) if len(y) >= 10 \
                else np.full(len(y), y.mean())
        return self._oof_pred

    def _oof_rmse(self) -> float:
        return float(np.sqrt(np.mean((self.oof_pred_ - self.y_fit_) ** 2)))

    def _fit_law(self, X, y):
        mu, sd = float(y.mean()), float(y.std()) or 1.0
        z = (y - mu) / sd
        best, best_sign = None, 1.0
        for sign in (1.0, -1.0):
            fit = self._least_squares(X, z, sign)
            if best is None or fit.cost < best.cost:
                best, best_sign = fit, sign
        c, log_k, log_alpha, log_tau, b = best.x[0], best.x[1], best.x[2], best.x[3], best.x[4:]
        self.c_, self.k_ = c * sd + mu, best_sign * float(np.exp(log_k)) * sd
        self.alpha_, self.tau_, self.a_ = float(np.exp(log_alpha)), _tau(log_tau), np.exp(b)
        return self

    def _least_squares(self, X, z, sign):
        ridge = np.sqrt(self.l2)
        n_comp = X.shape[1]

        def parts(p):
            k, alpha, tau, a = np.exp(p[1]), np.exp(p[2]), _tau(p[3]), np.exp(p[4:])
            e = saturated(X, tau)
            s = e @ a + 1.0
            return sign * k * s ** -alpha, alpha, tau, a, e, s

        def residuals(p):
            term = parts(p)[0]
            return np.r_[p[0] + term - z, ridge * p[4:]]

        def jacobian(p):
            top = _gradient(*parts(p))
            bottom = np.c_[np.zeros((n_comp, 4)), ridge * np.eye(n_comp)]
            return np.r_[top, bottom]

        x0 = np.r_[z.min() if sign > 0 else z.max(), np.log(max(float(np.ptp(z)), 1e-3)), np.log(0.5), np.log(TAU0),
                   np.zeros(n_comp)]
        return least_squares(residuals, x0, jac=jacobian, method="trf", max_nfev=self.max_nfev)

    def _mean(self, X):
        return self.c_ + self.k_ * (saturated(X, self.tau_) @ self.a_ + 1.0) ** -self.alpha_

    def gradient(self, X: np.ndarray) -> np.ndarray:
        """d mean / d parameters at each row of X, shape (rows, components + 4); the parameters in the order
        c, log|k|, log alpha, log tau, log a_i (the linearisation that believers.py's LawBeliever uses)."""
        e = saturated(X, self.tau_)
        s = e @ self.a_ + 1.0
        return _gradient(self.k_ * s ** -self.alpha_, self.alpha_, self.tau_, self.a_, e, s)

    def _predict(self, X, return_std):
        mean = self._mean(X)
        return (mean, np.full(len(X), self._oof_rmse())) if return_std else mean

    def _state(self):
        return ({"c": self.c_, "k": self.k_, "alpha": self.alpha_, "tau": self.tau_},
                {"a": self.a_, "X_fit": self.X_fit_, "y_fit": self.y_fit_, "oof_pred": self.oof_pred_})

    def _restore(self, state, arrays, folder):
        self.c_, self.k_, self.alpha_, self.a_ = state["c"], state["k"], state["alpha"], arrays["a"]
        self.tau_ = state.get("tau", float("inf"))  # saved before the saturation: e(w) = w, the plain law
        self.X_fit_, self.y_fit_, self._oof_pred = arrays["X_fit"], arrays["y_fit"], arrays["oof_pred"]
