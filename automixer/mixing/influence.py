"""Which component drives which capability: the influence table of ``automixer fit``.

For each capability group, the group's metric with the best CV Spearman is read through its surrogate.
The effect of a component is how much the score improves (sign-adjusted z-score: positive always means
better, whatever the metric's direction) per unit of weight moved onto that component from the others
in proportion: ``(s((1 - h) w + h e_c) - s(w)) / h`` with ``h = STEP``. A finite step rather than a
derivative, because tree surrogates are piecewise constant. The effect is averaged over the swarm's
mixtures and the natural mixture, so it describes the region the proxies explored, not one point.
Shapes: N mixtures, C components.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from automixer.mixing.metrics import group_of

STEP = 0.1
"""Share of the weight moved onto a component."""


def group_metrics(sset) -> dict[str, str]:
    """group -> its metric with the best CV Spearman (unscored targets rank last)."""
    best: dict[str, tuple[float, str]] = {}
    for metric, tm in sset.targets.items():
        rho = tm.cv.get(tm.surrogate, {}).get("spearman")
        score = float(rho) if rho is not None and np.isfinite(rho) else -np.inf
        group = group_of(metric)
        if group not in best or score > best[group][0]:
            best[group] = (score, metric)
    return {g: m for g, (_, m) in sorted(best.items())}


def effects(sset, metric: str, X_NC: np.ndarray) -> np.ndarray:
    """(C,) mean improvement of ``metric``'s sign-adjusted z-score per unit weight moved onto each component."""
    base = sset.normalized(X_NC, [metric])[:, 0]
    out = np.zeros(len(sset.components))
    for c in range(len(sset.components)):
        moved = (1.0 - STEP) * X_NC
        moved[:, c] += STEP
        out[c] = float(np.mean(-(sset.normalized(moved, [metric])[:, 0] - base) / STEP))
    return out


def influence_table(sset, X_swarm_NC: np.ndarray, natural_C: np.ndarray) -> pa.Table:
    """One row per (group, component): effect (positive: more of the component improves the group),
    direction (helps / hurts), the metric read, its CV Spearman, and the effect at the natural mixture."""
    X = np.vstack([natural_C[None], X_swarm_NC])
    rows = []
    for group, metric in group_metrics(sset).items():
        tm = sset.targets[metric]
        mean, at_natural = effects(sset, metric, X), effects(sset, metric, natural_C[None])
        for c, comp in enumerate(sset.components):
            rows.append({"group": group, "component": comp, "effect": round(float(mean[c]), 4),
                         "direction": "helps" if mean[c] > 0 else "hurts" if mean[c] < 0 else "none",
                         "at_natural": round(float(at_natural[c]), 4), "metric": metric,
                         "spearman": tm.cv.get(tm.surrogate, {}).get("spearman")})
    return pa.Table.from_pylist(rows)
