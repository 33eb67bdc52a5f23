"""The surrogate regressors: LightGBM, Gaussian process, linear, log-linear and the data-mixing law.

Swarms are small (about 60 runs): every model here is set up for that (tiny trees with few samples per
leaf, a GP with a noise term, ridge with a cross-validated penalty, a few-parameter mixing law).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from threadpoolctl import ThreadpoolController

from automixer.mixing.surrogates._base import SurrogateBase, transform_weights

_ALPHAS = np.logspace(-6, 2, 17)
_CONTROLLER: list[ThreadpoolController] = []


def _one_blas_thread():
    """Limit BLAS to one thread (the controller scans loaded libraries once: that scan is slow)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


class LightGBMSurrogate(SurrogateBase):
    """Gradient-boosted trees as in RegMix, sized for tens of runs.

    n_estimators, learning_rate, num_leaves, min_child_samples: LightGBM's meaning.
    subsample: bagging fraction per tree (1 disables bagging).
    random_state: seed of the bagging.
    """

    def __init__(self, *, n_estimators=300, learning_rate=0.05, num_leaves=7, min_child_samples=3,
                 subsample=0.8, reg_lambda=1e-3, random_state=0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.random_state = random_state

    def _params(self) -> dict:
        return {
            "objective": "regression", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples, "min_data_in_bin": 1, "lambda_l2": self.reg_lambda,
            "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
            "seed": self.random_state, "deterministic": True, "force_row_wise": True,
            "num_threads": 1, "verbosity": -1,
        }

    def _fit(self, X, y):
        import lightgbm as lgb

        data = lgb.Dataset(X, y, params={"verbosity": -1, "min_data_in_bin": 1})
        self.booster_ = lgb.train(self._params(), data, num_boost_round=self.n_estimators)

    def _predict(self, X, return_std):
        return self.booster_.predict(X)

    def _state(self):
        return {"model_file": "lightgbm.txt", "model_text": self.booster_.model_to_string()}, {}

    def save_state(self, folder: Path) -> dict:
        state = super().save_state(folder)
        (folder / state["model_file"]).write_text(state.pop("model_text"), encoding="utf-8")
        return state

    def _restore(self, state, arrays, folder):
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(folder / state["model_file"]))


class GPSurrogate(SurrogateBase):
    """Gaussian process (Matern 5/2 with one length scale per component, plus noise) on transformed weights.

    weight_transform: none, sqrt, log or clr (centred log-ratio); sqrt spreads out small weights.
    n_restarts: extra random starts of the kernel hyperparameter search (0 disables).
    random_state: seed of those starts.
    """

    provides_std = True

    def __init__(self, *, weight_transform="sqrt", nu=2.5, n_restarts=1, random_state=0):
        self.weight_transform = weight_transform
        self.nu = nu
        self.n_restarts = n_restarts
        self.random_state = random_state

    def _kernel(self, n_features):
        return ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.ones(n_features), (1e-2, 1e2), nu=self.nu) \
            + WhiteKernel(1e-2, (1e-6, 1.0))

    def _fit(self, X, y):
        Z = transform_weights(X, self.weight_transform)
        gp = GaussianProcessRegressor(self._kernel(X.shape[1]), normalize_y=True,
                                      n_restarts_optimizer=self.n_restarts, random_state=self.random_state)
        # One BLAS thread: the matrices are tiny (tens of runs), so threads only add contention.
        with warnings.catch_warnings(), _one_blas_thread():
            # A length scale at its upper bound means "this component does not matter": expected, not a failure.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.gp_ = gp.fit(Z, y)
        self.X_fit_, self.y_fit_ = X, y

    def _predict(self, X, return_std):
        with _one_blas_thread():
            return self.gp_.predict(transform_weights(X, self.weight_transform), return_std=return_std)

    def _state(self):
        return {}, {"X_fit": self.X_fit_, "y_fit": self.y_fit_, "theta": self.gp_.kernel_.theta}

    def _restore(self, state, arrays, folder):
        # Refit with the kernel frozen at the saved hyperparameters: the same arithmetic, same predictions.
        kernel = self._kernel(self.n_features_in_).clone_with_theta(arrays["theta"])
        gp = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None)
        self.X_fit_, self.y_fit_ = arrays["X_fit"], arrays["y_fit"]
        self.gp_ = gp.fit(transform_weights(self.X_fit_, self.weight_transform), self.y_fit_)


class LinearSurrogate(SurrogateBase):
    """Ridge regression on transformed weights, penalty chosen by leave-one-out CV.

    weight_transform: none (linear in the weights) or log (log-linear: diminishing returns of each component).
    """

    def __init__(self, *, weight_transform="none"):
        self.weight_transform = weight_transform

    def _fit(self, X, y):
        model = RidgeCV(alphas=_ALPHAS).fit(transform_weights(X, self.weight_transform), y)
        self.coef_, self.intercept_, self.alpha_ = model.coef_, float(model.intercept_), float(model.alpha_)

    def _predict(self, X, return_std):
        return transform_weights(X, self.weight_transform) @ self.coef_ + self.intercept_

    def _state(self):
        return {"intercept": self.intercept_, "alpha": self.alpha_}, {"coef": self.coef_}

    def _restore(self, state, arrays, folder):
        self.coef_, self.intercept_, self.alpha_ = arrays["coef"], state["intercept"], state["alpha"]


class LogLinearSurrogate(LinearSurrogate):
    """Ridge regression on log(weight + 1e-3): linear in the log weights."""

    def __init__(self, *, weight_transform="log"):
        self.weight_transform = weight_transform


class MixingLawSurrogate(SurrogateBase):
    """The data-mixing law ``y = c + k * exp(sum_i t_i w_i)`` (Ye et al. 2024), fitted by least squares.

    l2: ridge penalty on t (the weights sum to 1, so t is only defined up to a shift; this pins it).
    """

    def __init__(self, *, l2=1e-3):
        self.l2 = l2

    def _fit(self, X, y):
        mu, sd = float(y.mean()), float(y.std()) or 1.0
        z = (y - mu) / sd
        best = None
        for sign in (1.0, -1.0):  # k > 0 (metric grows with exp) or k < 0
            fit = self._fit_from(X, z, sign)
            if best is None or fit.cost < best.cost:
                best = fit
        c, k, t = best.x[0], best.x[1], best.x[2:]
        self.c_, self.k_, self.t_ = c * sd + mu, k * sd, t
        # Exponents seen in training, widened by a quarter: bounds extrapolation far from the sampled runs.
        s = X @ t
        margin = 0.25 * float(np.ptp(s))
        self.s_range_ = [float(s.min()) - margin, float(s.max()) + margin]

    def _fit_from(self, X, z, sign):
        c0 = z.min() - 0.5 if sign > 0 else z.max() + 0.5
        logs = np.log(np.clip(sign * (z - c0), 1e-6, None))
        t0, *_ = np.linalg.lstsq(np.c_[np.ones(len(z)), X], logs, rcond=None)
        x0 = np.r_[c0, sign * np.exp(t0[0]), t0[1:]]

        ridge = np.sqrt(self.l2)

        def residuals(p):
            pred = p[0] + p[1] * np.exp(np.clip(X @ p[2:], -50, 50))
            return np.r_[pred - z, ridge * p[2:]]

        def jacobian(p):
            e = np.exp(np.clip(X @ p[2:], -50, 50))
            top = np.c_[np.ones(len(z)), e, p[1] * e[:, None] * X]
            bottom = np.c_[np.zeros((X.shape[1], 2)), ridge * np.eye(X.shape[1])]
            return np.r_[top, bottom]

        return least_squares(residuals, x0, jac=jacobian, method="trf", max_nfev=500)

    def _predict(self, X, return_std):
        return self.c_ + self.k_ * np.exp(np.clip(X @ self.t_, *self.s_range_))

    def _state(self):
        return {"c": self.c_, "k": self.k_, "s_range": self.s_range_}, {"t": self.t_}

    def _restore(self, state, arrays, folder):
        self.c_, self.k_, self.t_, self.s_range_ = state["c"], state["k"], arrays["t"], state["s_range"]


BASE_MODELS: dict[str, type[SurrogateBase]] = {
    "lightgbm": LightGBMSurrogate,
    "gp": GPSurrogate,
    "linear": LinearSurrogate,
    "loglinear": LogLinearSurrogate,
    "mixing_law": MixingLawSurrogate,
}
"""The single-model surrogates by name (an ensemble's members come from here)."""
