"""Result rows of trained proxies: one runs-table row per run, the runs table, progress lines.

The runs table's fixed columns are ``FIXED_COLUMNS``; then ``mix/<component>`` (the run's mixture) and
``metric/<name>`` (what ``proxies.evaluate`` measured), both float. ``train_s`` / ``eval_s`` split a run's
time into training and scoring; ``tokens_per_s`` is training tokens per second of ``train_s``.
"""

from __future__ import annotations

import time

import pyarrow as pa

from automixer.mixing.columns import METRIC, MIX
from dataplane.errors import StageError

_RESULT_KEYS = ("tokens_seen", "tokens_per_s", "wall_s", "train_s", "eval_s", "weights_sha256", "train_loss",
                "n_params")

FIXED_COLUMNS = {"run_id": pa.string(), "tag": pa.string(), "repeat_of": pa.string(), "status": pa.string(),
                 "error": pa.string(), "attempts": pa.int64(), "seed": pa.int64(), "config_hash": pa.string(),
                 "tokens_seen": pa.int64(), "tokens_per_s": pa.float64(), "wall_s": pa.float64(),
                 "train_s": pa.float64(), "eval_s": pa.float64(), "weights_sha256": pa.string(),
                 "train_loss": pa.float64(), "n_params": pa.int64()}


def run_row(spec, result: dict | None, error: str | None, attempts: int, recipe) -> dict:
    """One runs-table row (mix/* for every component, metric/* from the result) of a RunSpec."""
    row = {"run_id": spec.run_id, "tag": spec.tag, "repeat_of": spec.repeat_of,
           "status": "ok" if result else "failed", "error": error, "attempts": attempts,
           "seed": spec.seed, "config_hash": recipe.hash}
    res = result or {}
    for key in _RESULT_KEYS:
        row[key] = res.get(key)
    for c in recipe.components:
        row[f"{MIX}{c['component']}"] = float(spec.mixture.get(c["component"], 0.0))
    for name, value in sorted(res.get("metrics", {}).items()):
        row[f"{METRIC}{name}"] = float(value)
    return row


def runs_table(rows: list[dict]) -> pa.Table:
    """Rows -> the runs table: fixed columns, then mix/* and metric/* (union over rows, nulls if absent)."""
    extra = sorted({k for r in rows for k in r if k not in FIXED_COLUMNS},
                   key=lambda k: (not k.startswith(MIX), k))
    schema = pa.schema(list(FIXED_COLUMNS.items()) + [(k, pa.float64()) for k in extra])
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)


def normalise_mixture(mixture: dict, components: list[str]) -> dict:
    """Accept ``name`` or ``mix/name`` keys; missing components get 0; weights are rescaled to sum 1."""
    clean = {k[len(MIX):] if k.startswith(MIX) else k: float(v) for k, v in mixture.items()}
    unknown = sorted(set(clean) - set(components))
    if unknown:
        raise StageError(f"mixture names unknown component {unknown[0]!r}; components are: {', '.join(components)}")
    total = sum(clean.values())
    if total <= 0 or any(v < 0 for v in clean.values()):
        raise StageError(f"mixture weights must be >= 0 with a positive sum, got {mixture}")
    return {c: clean.get(c, 0.0) / total for c in components}


class Progress:
    """Prints one line per finished proxy with the running count, its speed and an ETA."""

    def __init__(self, total: int, label: str = "sweep"):
        self.total, self.done, self.started, self.label = total, 0, time.time(), label

    def __call__(self, spec, row: dict) -> None:
        self.done += 1
        elapsed = time.time() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        losses = [f"{k[len(METRIC):]}={v:.3f}" for k, v in row.items()
                  if k.startswith(METRIC) and k.endswith("_loss")][:4]
        if row["status"] == "ok":
            speed = (f" [train {row['train_s'] or 0:.0f} s, eval {row['eval_s'] or 0:.0f} s, "
                     f"{row['tokens_per_s'] or 0:,.0f} tok/s]")
            what = " ".join(losses) + speed
        else:
            what = f"FAILED: {row['error']}"
        print(f"[{self.label}] {self.done}/{self.total} {spec.run_id} {what} ({elapsed:.0f} s, ETA {eta:.0f} s)",
              flush=True)
