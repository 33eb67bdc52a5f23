"""Surrogate regressors from mixture weights to a metric (scikit-learn estimators).

Every surrogate follows the sklearn contract (``clone``, ``get_params``, ``fit`` returns self,
``predict`` checks it is fitted) and saves to a folder in portable formats: ``model.json`` (class name,
hyperparameters, scalars), ``*.npy`` arrays and, for LightGBM, its text model. Loading never unpickles.
"""

from __future__ import annotations

from automixer.mixing.surrogates._base import SurrogateBase, transform_weights
from automixer.mixing.surrogates._ensemble import EnsembleSurrogate
from automixer.mixing.surrogates._mde import MDE_BASES, MDECalibratedSurrogate, MDEFeatureSurrogate, mde_candidates
from automixer.mixing.surrogates._models import (
    GPSurrogate,
    LightGBMSurrogate,
    LinearSurrogate,
    LogLinearSurrogate,
    MixingLawSurrogate,
    SqrtLinearSurrogate,
)
from automixer.mixing.surrogates._power_law import PowerLawSurrogate
from automixer.mixing.surrogates._registry import REGISTRY, load_surrogate, make_surrogate, save_surrogate
from automixer.mixing.surrogates._selection import (
    CVResult,
    choose,
    cross_validate,
    grouped_folds,
    mixture_groups,
    out_of_fold,
    score,
    underdetermined,
)
from automixer.mixing.surrogates._set import SurrogateSet, TargetModel

__all__ = [
    "REGISTRY",
    "SurrogateBase",
    "LightGBMSurrogate",
    "GPSurrogate",
    "LinearSurrogate",
    "LogLinearSurrogate",
    "MixingLawSurrogate",
    "SqrtLinearSurrogate",
    "PowerLawSurrogate",
    "EnsembleSurrogate",
    "MDE_BASES",
    "MDECalibratedSurrogate",
    "MDEFeatureSurrogate",
    "mde_candidates",
    "CVResult",
    "make_surrogate",
    "save_surrogate",
    "load_surrogate",
    "cross_validate",
    "choose",
    "grouped_folds",
    "mixture_groups",
    "out_of_fold",
    "score",
    "transform_weights",
    "underdetermined",
    "SurrogateSet",
    "TargetModel",
]
