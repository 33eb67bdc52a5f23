"""The surrogate regressors: LightGBM, Gaussian process, linear, log-linear, sqrt-linear and the data-mixing law.

Swarms are small (about 60 runs): every model here is set up for that (tiny trees with few samples per
leaf, a GP with a noise term and a length-scale prior, ridge with a cross-validated penalty, a few-parameter
mixing law).

Every model gives a standard deviation with ``predict(X, return_std=True)``: the GP its posterior, ridge
its Bayesian-ridge posterior, LightGBM the spread of re-seeded bagged boosters plus its out-of-fold error,
the mixing law its out-of-fold error.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares, minimize
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from sklearn.linear_model import RidgeCV
from threadpoolctl import ThreadpoolController

from automixer.mixing.surrogates._base import SurrogateBase, transform_weights
from automixer.mixing.surrogates._power_law import PowerLawSurrogate
from automixer.mixing.surrogates._selection import inner_oof
from dataplane.errors import InputError

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
    n_uncertainty: extra boosters with other bagging seeds; the std is their spread around the main one plus
        the out-of-fold error (inner 5-fold; 0 disables both and gives a std of 0).
    """

    provides_std = True

    def __init__(self, *, n_estimators=300, learning_rate=0.05, num_leaves=7, min_child_samples=3,
                 subsample=0.8, reg_lambda=1e-3, n_uncertainty=4, random_state=0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.n_uncertainty = n_uncertainty
        self.random_state = random_state

    def _params(self, seed: int) -> dict:
        return {
            "objective": "regression", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples, "min_data_in_bin": 1, "lambda_l2": self.reg_lambda,
            "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
            "seed": seed, "deterministic": True, "force_row_wise": True,
            "num_threads": 1, "verbosity": -1,
        }

    def _train(self, X, y, seed: int):
        import lightgbm as lgb

        data = lgb.Dataset(X, y, params={"verbosity": -1, "min_data_in_bin": 1})
        return lgb.train(self._params(seed), data, num_boost_round=self.n_estimators)

    def _fit(self, X, y):
        self.booster_ = self._train(X, y, self.random_state)
        self.spread_boosters_ = [self._train(X, y, self.random_state + 1 + i) for i in range(self.n_uncertainty)]
        self.oof_rmse_ = 0.0
        if self.n_uncertainty:
            oof = inner_oof(lambda a, b: self._train(a, b, self.random_state).predict, X, y, self.random_state)
            self.oof_rmse_ = float(np.sqrt(np.mean((oof - y) ** 2)))

    def _predict(self, X, return_std):
        mean = self.booster_.predict(X)
        if not return_std:
            return mean
        spread = np.mean([(b.predict(X) - mean) ** 2 for b in self.spread_boosters_], axis=0) \
            if self.spread_boosters_ else np.zeros(len(X))
        return mean, np.sqrt(spread + self.oof_rmse_**2)

    def _state(self):
        texts = [b.model_to_string() for b in [self.booster_, *self.spread_boosters_]]
        return {"model_files": [f"lightgbm_{i}.txt" for i in range(len(texts))], "model_texts": texts,
                "oof_rmse": self.oof_rmse_}, {}

    def save_state(self, folder: Path) -> dict:
        state = super().save_state(folder)
        for name, text in zip(state["model_files"], state.pop("model_texts")):
            (folder / name).write_text(text, encoding="utf-8")
        return state

    def _restore(self, state, arrays, folder):
        import lightgbm as lgb

        boosters = []
        for name in state["model_files"]:
            try:
                boosters.append(lgb.Booster(model_file=str(folder / name)))
            except lgb.basic.LightGBMError:
                raise InputError(f"{folder / name}: missing or not a LightGBM model file; "
                                 "re-run automixer fit") from None
        self.booster_, self.spread_boosters_, self.oof_rmse_ = boosters[0], boosters[1:], state["oof_rmse"]


class GPSurrogate(SurrogateBase):
    """Gaussian process (Matern 5/2 with one length scale per component, plus noise) on transformed weights.

    weight_transform: none, sqrt, log or clr (centred log-ratio); sqrt spreads out small weights.
    length_scale_prior: (median, sd of the log) of a log-normal prior on every length scale, maximised with
        the marginal likelihood (MAP); it keeps 24 length scales from 60 runs from running off to their
        bounds. None disables it (plain maximum likelihood).
    n_restarts: extra random starts of the kernel hyperparameter search (0 disables).
    random_state: seed of those starts.
    """

    provides_std = True

    def __init__(self, *, weight_transform="sqrt", nu=2.5, length_scale_prior=(10.0, 1.0), n_restarts=0,
                 random_state=0):
        self.weight_transform = weight_transform
        self.nu = nu
        self.length_scale_prior = length_scale_prior
        self.n_restarts = n_restarts
        self.random_state = random_state

    def _kernel(self, n_features):
        start = 1.0
        return ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(n_features, start), (1e-2, 1e2), nu=self.nu) \
            + WhiteKernel(1e-2, (1e-6, 1.0))

    def _map_optimizer(self, n_features):
        """L-BFGS-B on minus the log marginal likelihood plus the log-normal length-scale prior."""
        if not self.length_scale_prior:
            return "fmin_l_bfgs_b"
        return _LengthScalePriorMAP(n_features, *self.length_scale_prior)

    def _fit(self, X, y):
        Z = transform_weights(X, self.weight_transform)
        gp = GaussianProcessRegressor(
            self._kernel(X.shape[1]),
            normalize_y=True,
            optimizer=self._map_optimizer(X.shape[1]),
            n_restarts_optimizer=self.n_restarts,
            random_state=self.random_state,
        )
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


class _LengthScalePriorMAP:
    """A GaussianProcessRegressor optimizer: MAP with a log-normal prior on the length scales (picklable)."""

    def __init__(self, n_features: int, median: float, sd: float):
        self.scales = slice(1, 1 + n_features)  # theta: log constant, log length scales, log noise
        self.log_median, self.sd = float(np.log(median)), float(sd)

    def __call__(self, obj_func, theta0, bounds):
        def penalised(theta):
            value, grad = obj_func(theta, eval_gradient=True)
            z = (theta[self.scales] - self.log_median) / self.sd
            grad = grad.copy()
            grad[self.scales] += z / self.sd
            return value + 0.5 * float(z @ z), grad

        res = minimize(penalised, theta0, jac=True, bounds=bounds, method="L-BFGS-B")
        return res.x, res.fun


class LinearSurrogate(SurrogateBase):
    """Ridge regression on transformed weights, penalty chosen by leave-one-out CV.

    weight_transform: none (linear in the weights) or log (log-linear: diminishing returns of each component).
    pairwise: also the products of every pair of transformed weights (interactions between components).
    The std is the Bayesian-ridge posterior: noise from the leave-one-out residuals, plus the coefficient
    uncertainty sigma^2 x^T (F^T F + alpha I)^-1 x at the chosen penalty.
    """

    provides_std = True

    def __init__(self, *, weight_transform="none", pairwise=False):
        self.weight_transform = weight_transform
        self.pairwise = pairwise

    def _features(self, X):
        F = transform_weights(X, self.weight_transform)
        if not self.pairwise:
            return F
        i, j = np.triu_indices(F.shape[1], k=1)
        return np.hstack([F, F[:, i] * F[:, j]])

    def _fit(self, X, y):
        F = self._features(X)
        model = RidgeCV(alphas=_ALPHAS).fit(F, y)
        self.coef_, self.intercept_, self.alpha_ = model.coef_, float(model.intercept_), float(model.alpha_)
        # Closed-form leave-one-out on the centred features: residual_i / (1 - H_ii).
        self.feature_mean_ = F.mean(axis=0)
        Fc = F - self.feature_mean_
        self.precision_inv_ = np.linalg.inv(Fc.T @ Fc + self.alpha_ * np.eye(F.shape[1]))
        hat = np.einsum("ij,jk,ik->i", Fc, self.precision_inv_, Fc) + 1.0 / len(y)
        resid = y - self._mean(X)
        loo_pred = y - resid / np.clip(1.0 - hat, 1e-6, None)
        self.noise_ = float(np.sqrt(np.mean((loo_pred - y) ** 2)))

    def _mean(self, X):
        return self._features(X) @ self.coef_ + self.intercept_

    def _predict(self, X, return_std):
        mean = self._mean(X)
        if not return_std:
            return mean
        Fc = self._features(X) - self.feature_mean_
        coef_var = np.einsum("ij,jk,ik->i", Fc, self.precision_inv_, Fc)
        return mean, self.noise_ * np.sqrt(1.0 + coef_var)

    def _state(self):
        return (
            {"intercept": self.intercept_, "alpha": self.alpha_, "noise": self.noise_},
            {"coef": self.coef_, "feature_mean": self.feature_mean_, "precision_inv": self.precision_inv_},
        )

    def _restore(self, state, arrays, folder):
        self.coef_, self.intercept_, self.alpha_ = arrays["coef"], state["intercept"], state["alpha"]
        self.feature_mean_, self.precision_inv_, self.noise_ = (
            arrays["feature_mean"],
            arrays["precision_inv"],
            state["noise"],
        )


class LogLinearSurrogate(LinearSurrogate):
    """Ridge regression on log(weight + 1e-3): linear in the log weights."""

    def __init__(self, *, weight_transform="log", pairwise=False):
        self.weight_transform = weight_transform
        self.pairwise = pairwise


class SqrtLinearSurrogate(LinearSurrogate):
    """Ridge regression on square-root weights and their pairwise products (smooth, with interactions)."""

    def __init__(self, *, weight_transform="sqrt", pairwise=True):
        self.weight_transform = weight_transform
        self.pairwise = pairwise


class MixingLawSurrogate(SurrogateBase):
    """The data-mixing law ``y = c + k * exp(sum_i t_i w_i)`` (Ye et al. 2024), fitted by least squares.

    l2: ridge penalty on t (the weights sum to 1, so t is only defined up to a shift; this pins it).
    The std is the out-of-fold error of an inner 5-fold (the same everywhere).
    """

    provides_std = True

    def __init__(self, *, l2=1e-3):
        self.l2 = l2

    def n_parameters(self, n_components: int) -> int:
        """c, k and one t per component (the tiny l2 only pins the shift of t)."""
        return n_components + 2

    def _fit(self, X, y):
        self._fit_law(X, y)
        oof = inner_oof(lambda a, b: clone(self)._fit_law(a, b)._predict_mean, X, y, 0) if len(y) >= 10 else y
        self.oof_rmse_ = float(np.sqrt(np.mean((oof - y) ** 2))) if len(y) >= 10 else float(np.std(y))

    def _fit_law(self, X, y):
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
        return self

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

    def _predict_mean(self, X):
        return self.c_ + self.k_ * np.exp(np.clip(X @ self.t_, *self.s_range_))

    def _predict(self, X, return_std):
        mean = self._predict_mean(X)
        return (mean, np.full(len(X), self.oof_rmse_)) if return_std else mean

    def _state(self):
        return {"c": self.c_, "k": self.k_, "s_range": self.s_range_, "oof_rmse": self.oof_rmse_}, {"t": self.t_}

    def _restore(self, state, arrays, folder):
        self.c_, self.k_, self.t_, self.s_range_ = state["c"], state["k"], arrays["t"], state["s_range"]
        self.oof_rmse_ = state["oof_rmse"]


BASE_MODELS: dict[str, type[SurrogateBase]] = {
    "lightgbm": LightGBMSurrogate,
    "gp": GPSurrogate,
    "linear": LinearSurrogate,
    "loglinear": LogLinearSurrogate,
    "mixing_law": MixingLawSurrogate,
    "sqrt_linear": SqrtLinearSurrogate,
    "power_law": PowerLawSurrogate,
}
"""The single-model surrogates by name (an ensemble's members come from here)."""
