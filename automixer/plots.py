"""PNG plots of fit and optimize (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_cv(metric: str, surrogate: str, measured: np.ndarray, predicted: np.ndarray, rho: float, path: Path) -> Path:
    """Out-of-fold predicted vs measured values of one target, with the identity line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(measured, predicted, s=18, alpha=0.8)
    lo, hi = float(min(measured.min(), predicted.min())), float(max(measured.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=1, linestyle="--")
    ax.set_xlabel(f"measured {metric}")
    ax.set_ylabel("predicted (cross-validated)")
    ax.set_title(f"{metric}: {surrogate}, Spearman {rho:.3f}", fontsize=10)
    return _save(fig, path)


def plot_mixture(components: list[str], chosen: np.ndarray, natural: np.ndarray, path: Path) -> Path:
    """Chosen vs natural weight per component (grouped bars)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(components) + 2), 4))
    x = np.arange(len(components))
    ax.bar(x - 0.2, natural, 0.4, label="natural")
    ax.bar(x + 0.2, chosen, 0.4, label="optimized")
    ax.set_xticks(x, components, rotation=30, ha="right")
    ax.set_ylabel("weight")
    ax.legend()
    ax.set_title("Optimized mixture vs natural", fontsize=10)
    return _save(fig, path)


def plot_pareto(metrics: list[str], scores: np.ndarray, front: np.ndarray, chosen: np.ndarray, path: Path) -> Path:
    """First two objectives (sign-adjusted z-scores, lower is better): all points, the front, the choice."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(scores[:, 0], scores[:, 1], s=6, color="lightgrey", label="candidates")
    order = np.argsort(front[:, 0])
    ax.plot(front[order, 0], front[order, 1], "o-", markersize=4, label="Pareto front")
    ax.scatter([chosen[0]], [chosen[1]], marker="*", s=200, color="red", label="chosen", zorder=3)
    ax.set_xlabel(f"{metrics[0]} (z, lower is better)")
    ax.set_ylabel(f"{metrics[1]} (z, lower is better)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_transfer(metrics: dict[str, dict], path: Path) -> Path:
    """Scale-up result: per metric, each mixture's mean over seeds with the seed sd as error bar."""
    plt = _pyplot()
    names = list(metrics) or ["(no metric)"]
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names) + 0.6, 3.8), squeeze=False)
    for ax, metric in zip(axes[0], names):
        info = metrics.get(metric, {"mixtures": {}, "higher_is_better": False, "seed_spread": None})
        mixes = list(info["mixtures"])
        means = [info["mixtures"][m]["mean"] for m in mixes]
        sds = [info["mixtures"][m]["sd"] or 0.0 for m in mixes]
        colors = ["tab:red" if m == "optimized" else "tab:grey" for m in mixes]
        ax.bar(range(len(mixes)), means, yerr=sds, color=colors, capsize=4)
        if means:
            pad = max(max(sds), 0.02 * (max(means) - min(means)) + 1e-9, 1e-6) * 3
            ax.set_ylim(min(means) - pad, max(means) + pad)
        ax.set_xticks(range(len(mixes)), [m.replace("_", " ") for m in mixes], rotation=30, ha="right")
        spread = info.get("seed_spread")
        direction = "higher" if info["higher_is_better"] else "lower"
        ax.set_title(f"{metric.removeprefix('metric/')} ({direction} is better)"
                     + (f"\nseed spread {spread:.4f}" if spread is not None else ""), fontsize=9)
    fig.suptitle("Scale-up: mean over seeds (error bar: seed sd)", fontsize=10)
    return _save(fig, path)


def plot_influence(rows: list[dict], path: Path) -> Path:
    """Heatmap of the influence table: components x groups, effect (positive: improves the group)."""
    plt = _pyplot()
    comps = list(dict.fromkeys(r["component"] for r in rows))
    groups = list(dict.fromkeys(r["group"] for r in rows))
    values = np.full((len(comps), len(groups)), np.nan)
    for r in rows:
        values[comps.index(r["component"]), groups.index(r["group"])] = r["effect"]
    lim = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.3 * len(groups) + 3, 0.45 * len(comps) + 1.8))
    im = ax.imshow(values, cmap="RdBu", vmin=-lim or -1, vmax=lim or 1, aspect="auto")
    for i in range(len(comps)):
        for j in range(len(groups)):
            if np.isfinite(values[i, j]):
                dark = abs(values[i, j]) > 0.6 * (lim or 1)
                ax.text(j, i, f"{values[i, j]:+.2f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_yticks(range(len(comps)), comps)
    ax.set_title("Influence: score change per unit weight (+ improves the group)", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _save(fig, path)


def pareto_mask(scores_NM: np.ndarray) -> np.ndarray:
    """True for rows no other row beats in every column (minimisation)."""
    keep = np.ones(len(scores_NM), dtype=bool)
    for i, row in enumerate(scores_NM):
        if keep[i]:
            dominated = (scores_NM >= row).all(1) & (scores_NM > row).any(1)
            keep &= ~dominated
    return keep


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path
