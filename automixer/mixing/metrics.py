"""Metric directions (is higher better?) and capability groups of ``metric/<group>_<measure>`` columns.

A direction is never guessed. It comes from, in order:
1. ``fit.higher_is_better`` / ``fit.lower_is_better`` in the config;
2. what the run recorded: the runs table's Parquet schema metadata key ``automixer.higher_is_better``
   (a JSON list; the sweep writes it, and every metric of that table not in it is lower-is-better),
   or the catalog table ``metric_directions``;
3. the whole-suffix rule (docs/RUNS_TABLE.md): ``_acc``/``_accuracy`` higher; ``_loss``/``_bpb``/``_ppl``
   lower. Whole suffixes only: ``mmlu_professional_accounting`` matches none.
Anything else is an error naming the metric.
"""

from __future__ import annotations

import json
import warnings
from typing import Iterable

from automixer.mixing.columns import METRIC
from dataplane.errors import ConfigError, InputError

DIRECTIONS_KEY = b"automixer.higher_is_better"
"""Runs-table Parquet schema metadata: JSON list of the metric columns where higher is better."""

HIGHER_SUFFIXES = ("acc", "accuracy")
LOWER_SUFFIXES = ("loss", "bpb", "ppl")


def short(metric: str) -> str:
    """``metric/code_bpb`` -> ``code_bpb``."""
    return metric.removeprefix(METRIC)


def measure_of(metric: str) -> str:
    """The last ``_``-separated part of the name (``code_bpb`` -> ``bpb``; ``loss`` -> ``loss``)."""
    return short(metric).rsplit("_", 1)[-1]


def group_of(metric: str) -> str:
    """Capability group: the name before a known measure suffix (``metric/code_bpb`` -> ``code``), else the name."""
    name = short(metric)
    head, _, tail = name.rpartition("_")
    return head if head and tail in HIGHER_SUFFIXES + LOWER_SUFFIXES else name


def suffix_direction(metric: str) -> bool | None:
    """True (higher is better), False (lower), or None when no whole suffix matches."""
    measure = measure_of(metric)
    if measure in HIGHER_SUFFIXES:
        return True
    if measure in LOWER_SUFFIXES:
        return False
    return None


def recorded_directions(metadata: dict | None, metrics: Iterable[str]) -> dict[str, bool]:
    """Directions a runs table recorded in its schema metadata ({} when it recorded none)."""
    if not metadata or DIRECTIONS_KEY not in metadata:
        return {}
    higher = {f"{METRIC}{short(m)}" for m in json.loads(metadata[DIRECTIONS_KEY])}
    return {m: m in higher for m in metrics}


def directions_metadata(directions: dict[str, bool]) -> dict[bytes, bytes]:
    """Schema metadata recording ``directions`` (metric -> higher is better)."""
    return {DIRECTIONS_KEY: json.dumps(sorted(m for m, h in directions.items() if h)).encode()}


def resolve_directions(metrics: Iterable[str], configured: Iterable[str], recorded: dict[str, bool] | None,
                       source: str, configured_lower: Iterable[str] = ()) -> dict[str, bool]:
    """metric -> higher is better, by the rules of the module docstring; InputError naming an unresolved metric.
    ``configured``/``configured_lower``: fit.higher_is_better / fit.lower_is_better."""
    wanted = {f"{METRIC}{short(m)}" for m in configured}
    lower = {f"{METRIC}{short(m)}" for m in configured_lower}
    recorded = recorded or {}
    out, unknown = {}, []
    for m in metrics:
        found = True if m in wanted else False if m in lower else recorded.get(m, suffix_direction(m))
        if found is None:
            unknown.append(m)
        out[m] = bool(found)
    if unknown:
        raise InputError(
            f"{source}: direction of {unknown[0]} unknown (is higher better?): list it in "
            "fit.higher_is_better or fit.lower_is_better, or name it <group>_loss / _bpb / _ppl (lower) or _acc "
            "(higher); see docs/RUNS_TABLE.md"
        )
    return out


def default_objective(scores: dict[str, float | None], min_signal: float) -> tuple[dict[str, float], dict]:
    """One metric per capability group, equally weighted: the group's metric with the best score
    (CV Spearman), if it reaches ``min_signal``; a score of None (not cross-validated) is kept but ranks
    below any known one. Returns (metric -> weight, an explanation for the mixture YAML). Groups without
    signal are left out with a warning; none left is a ConfigError."""
    by_group: dict[str, list[tuple[float | None, str]]] = {}
    for metric, score in scores.items():
        by_group.setdefault(group_of(metric), []).append((score, metric))
    chosen, left_out = {}, {}
    for group, cands in sorted(by_group.items()):
        score, metric = max(cands, key=lambda c: (c[0] is not None, c[0] or 0.0, c[1]))
        if score is None or score >= min_signal:
            chosen[group] = metric
        else:
            left_out[group] = {"metric": metric, "spearman": round(float(score), 4)}
    for group, why in left_out.items():
        warnings.warn(
            f"objective: group {group} left out of the default objective: its best metric {why['metric']} "
            f"has CV Spearman {why['spearman']:.2f} < optimize.min_signal={min_signal:g} (no signal); "
            "set optimize.objective to choose the metrics yourself",
            stacklevel=3,
        )
    if not chosen:
        raise ConfigError(
            f"optimize: no fitted metric has CV Spearman >= optimize.min_signal={min_signal:g} "
            f"({', '.join(f'{m} {s:.2f}' for m, s in scores.items() if s is not None)}); the proxies show no signal. "
            "Lower optimize.min_signal or set optimize.objective"
        )
    weights = {metric: 1.0 / len(chosen) for metric in chosen.values()}
    return weights, {
        "groups": chosen,
        "left_out": left_out,
        "min_signal": min_signal,
        "rule": "per capability group, the metric with the best CV Spearman; equal weights",
    }
