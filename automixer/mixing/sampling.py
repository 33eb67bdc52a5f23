"""Mixture sampling for the proxy sweep (RegMix-style, plus a space-filling design).

- Dirichlet draws centred on the natural token distribution p: alpha = c * K * p for each
  concentration level c (cycled), so small c explores corners and large c stays near p.
- A space-filling share from a scrambled Halton sequence in [0, 1]^K mapped to the simplex by
  normalised -log(u) (uniform spacings), which covers the simplex evenly where random draws clump.
- Every mixture is projected onto the per-component bounds (min <= w <= max, sum 1).
Randomness enters only through ``seed``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

_MIN_ALPHA = 1e-3  # a component with a tiny natural share still gets drawn now and then


def check_bounds(
    names: list[str], min_weight: dict[str, float], max_weight: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds as arrays in ``names`` order; ValueError naming an unknown component or infeasibility."""
    for key, bounds in (("min_weight", min_weight), ("max_weight", max_weight)):
        unknown = sorted(set(bounds) - set(names))
        if unknown:
            raise ValueError(f"{key} names unknown component {unknown[0]!r}; components are: {', '.join(names)}")
    lo = np.array([min_weight.get(n, 0.0) for n in names])
    hi = np.array([max_weight.get(n, 1.0) for n in names])
    if lo.sum() > 1 + 1e-9 or hi.sum() < 1 - 1e-9:
        raise ValueError(f"bounds are infeasible: min_weight sums to {lo.sum():.3f}, max_weight to {hi.sum():.3f}")
    return lo, hi


def project_to_bounds(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Closest-in-spirit feasible mixture: clip to [lo, hi], then share the residual by headroom."""
    w = np.clip(np.asarray(w, dtype=float), lo, hi)
    residual = 1.0 - w.sum()
    room = (hi - w) if residual > 0 else (w - lo)
    if abs(residual) > 1e-12 and room.sum() > 0:
        w = w + residual * room / room.sum()  # proportional to headroom: never crosses a bound
    return np.clip(w, lo, hi) / np.clip(w, lo, hi).sum()


def dirichlet_draws(
    natural: np.ndarray, n: int, concentrations: tuple[float, ...], rng: np.random.Generator
) -> np.ndarray:
    """n draws, cycling through the concentration levels."""
    k = len(natural)
    out = np.empty((n, k))
    for i in range(n):
        alpha = np.maximum(concentrations[i % len(concentrations)] * k * natural, _MIN_ALPHA)
        out[i] = rng.dirichlet(alpha)
    return out


def space_filling(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points spread evenly over the (k-1)-simplex (scrambled Halton -> normalised exponentials)."""
    if n == 0:
        return np.empty((0, k))
    u = qmc.Halton(d=k, scramble=True, seed=rng).random(n)
    e = -np.log(np.clip(u, 1e-12, 1.0))
    return e / e.sum(axis=1, keepdims=True)


def sample_mixtures(
    natural: dict[str, float],
    n: int,
    *,
    concentrations: tuple[float, ...] = (0.3, 1.0, 3.0),
    space_filling_share: float = 0.25,
    min_weight: dict[str, float] | None = None,
    max_weight: dict[str, float] | None = None,
    natural_first: bool = True,
    seed: int = 0,
) -> list[dict[str, float]]:
    """``n`` mixtures over the components of ``natural`` (name -> natural share)."""
    names = list(natural)
    lo, hi = check_bounds(names, min_weight or {}, max_weight or {})
    p = np.array([natural[c] for c in names], dtype=float)
    if len(names) == 0 or p.sum() <= 0:
        raise ValueError("no components with tokens to mix")
    p = p / p.sum()
    rng = np.random.default_rng(seed)
    rows = [p] if natural_first and n > 0 else []
    rest = n - len(rows)
    n_space = int(round(space_filling_share * rest))
    rows.extend(dirichlet_draws(p, rest - n_space, concentrations, rng))
    rows.extend(space_filling(len(names), n_space, rng))
    mixtures = []
    for w in rows:
        w = project_to_bounds(w, lo, hi)
        mixtures.append({name: float(x) for name, x in zip(names, w)})
    return mixtures
