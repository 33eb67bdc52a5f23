"""Matplotlib figures of the report, written as PNGs beside the page.

Every function takes plain rows, draws one figure with labelled axes and returns the file name (relative
to the page). Components and run ids go on the vertical axis of horizontal bars or heat maps, so long
names never overlap.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from dataplane.store import atomic_write_bytes

DPI = 100
FONT = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
        "xtick.labelsize": 10, "ytick.labelsize": 10}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(FONT)
    return plt


def _save(fig, out_dir: Path, name: str) -> str:
    """Write the PNG through a temporary file (a killed report leaves no half-written image)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    _plt().close(fig)
    atomic_write_bytes(out_dir / name, buf.getvalue())
    return name


def _grid(n: int, ncols: int, w: float, h: float):
    plt = _plt()
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def score_histograms(hist: list[dict], cuts: list[float], out_dir: Path, name: str = "quality_scores.png",
                     width: float = 0.5) -> str:
    """One histogram of quality scores per source on a logit axis (bins ``width`` wide in logit units,
    as queries.score_histogram makes them), with the bucket cuts as dashed lines."""
    sources = sorted({r["source"] for r in hist})
    fig, axes = _grid(len(sources), 2, 5.2, 3.1)
    cuts = sorted(cuts)
    ticks = [0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999]
    for ax, source in zip(axes, sources):
        part = [r for r in hist if r["source"] == source]
        lo = _sigmoid([r["bin"] for r in part])
        hi = _sigmoid([r["bin"] + width for r in part])
        ax.bar(lo, [r["docs"] for r in part], width=hi - lo, align="edge", color="#4c72b0")
        ax.set_xscale("logit")
        ax.set_xlim(1e-4, 1 - 1e-4)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        for cut in cuts:
            ax.axvline(cut, color="#c44e52", linestyle="--", linewidth=1.2)
        ax.set_title(source)
        ax.set_xlabel("quality score (logit scale)")
        ax.set_ylabel("documents")
    if cuts:
        fig.suptitle(f"Dashed: bucket cuts at {', '.join(f'{c:.3g}' for c in cuts)}; "
                     f"bucket q0 (best) lies right of the highest cut", fontsize=11)
    return _save(fig, out_dir, name)


def grouped_bars(labels: list[str], series: dict[str, list[float]], out_dir: Path, name: str, *,
                 xlabel: str, title: str, ylabel: str = "", values: str = "") -> str:
    """Horizontal bars: one group per label, one bar per series (labels read top to bottom); ``values``
    (a format such as "%.2f") writes each bar's value at its end; the legend sits outside the axes."""
    plt = _plt()
    n, k = len(labels), max(1, len(series))
    fig, ax = plt.subplots(figsize=(8, 1.2 + n * (0.14 * k + 0.18)), layout="constrained")
    height = 0.8 / k
    y = np.arange(n)
    for i, (label, data) in enumerate(series.items()):
        bars = ax.barh(y - 0.4 + height * (i + 0.5), data, height, label=label)
        if values:
            ax.bar_label(bars, labels=[values % v if v else "" for v in data], padding=2, fontsize=9)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    if values:
        ax.margins(x=0.12)
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out_dir, name)


def heatmap(rows: list[str], cols: list[str], values_RC: np.ndarray, out_dir: Path, name: str, *,
            xlabel: str, ylabel: str, title: str, cbar: str, diverging: bool = False, annotate: bool = False) -> str:
    """A heat map with row and column names (columns slanted), a colour bar, optional values in cells."""
    plt = _plt()
    values_RC = np.asarray(values_RC, dtype=float)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 + 0.75 * len(cols)), max(3.0, 1.6 + 0.28 * len(rows))),
                           layout="constrained")
    if diverging:
        lim = float(np.nanmax(np.abs(values_RC))) or 1.0
        im = ax.imshow(values_RC, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    else:
        im = ax.imshow(values_RC, cmap="viridis", vmin=0, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=35, ha="right", rotation_mode="anchor")
    step = max(1, len(rows) // 40)
    ax.set_yticks(range(0, len(rows), step), rows[::step])
    if annotate and values_RC.size <= 160:
        _annotate(ax, values_RC, diverging)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=cbar, shrink=0.9)
    return _save(fig, out_dir, name)


def _annotate(ax, values_RC: np.ndarray, diverging: bool) -> None:
    """Each cell's value (2 decimals; blank where it rounds to 0) in a colour that reads on its cell."""
    top = float(np.nanmax(np.abs(values_RC))) or 1.0
    for (r, c), v in np.ndenumerate(values_RC):
        if not np.isfinite(v) or abs(v) < 0.005:
            continue
        dark = abs(v) > 0.6 * top if diverging else v < 0.55 * top  # viridis is dark at the low end
        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=9, color="white" if dark else "black")


def predicted_vs_measured(points: dict[str, tuple[list[float], list[float], str]], out_dir: Path,
                          name: str = "cv_predicted_vs_measured.png") -> str:
    """Per target: out-of-fold predicted against measured values, with the identity line."""
    fig, axes = _grid(len(points), 3, 3.6, 3.3)
    for ax, (target, (measured, predicted, model)) in zip(axes, points.items()):
        m, p = np.asarray(measured, float), np.asarray(predicted, float)
        lo, hi = float(min(m.min(), p.min())), float(max(m.max(), p.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", linestyle="--", linewidth=1)
        ax.scatter(m, p, s=16, alpha=0.8)
        ax.set_title(f"{target} ({model})", fontsize=10)
        ax.set_xlabel("measured")
        ax.set_ylabel("predicted (out of fold)")
        ax.locator_params(nbins=4)
    return _save(fig, out_dir, name)


def bars_with_errors(panels: dict[str, tuple[list[str], list[float], list[float]]], out_dir: Path, name: str, *,
                     xlabel: str) -> str:
    """One panel per metric: a point per label (mean) with its error bar (sd; none where unknown)."""
    fig, axes = _grid(len(panels), 2, 4.8, 0.9 + 0.45 * max(len(v[0]) for v in panels.values()))
    for ax, (title, (labels, means, sds)) in zip(axes, panels.items()):
        y = np.arange(len(labels))
        ax.errorbar(means, y, xerr=[s or 0.0 for s in sds], fmt="o", color="#4c72b0", capsize=4)
        lo, hi = min(means), max(means)
        pad = 0.5 * ((hi - lo) or abs(hi) * 0.01 or 1.0) + max(s or 0.0 for s in sds)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(y, labels)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.locator_params(axis="x", nbins=4)
    return _save(fig, out_dir, name)


def scatter_panels(panels: dict[str, tuple[list[float], list[float]]], out_dir: Path, name: str, *, xlabel: str,
                   ylabel: str) -> str:
    """One scatter panel per title: y against x for every point (no identity line: the axes differ in kind)."""
    fig, axes = _grid(len(panels), 2, 4.0, 3.4)
    for ax, (title, (xs, ys)) in zip(axes, panels.items()):
        ax.scatter(np.asarray(xs, float), np.asarray(ys, float), s=16, alpha=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.locator_params(nbins=4)
    return _save(fig, out_dir, name)
