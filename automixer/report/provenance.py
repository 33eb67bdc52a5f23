"""The provenance section: config hash, package versions, wall time per stage, the date."""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata

from automixer.report.context import Context
from automixer.report.html import Section, h3, para, table

STAGES = ("curate", "dedup", "synth", "sweep", "fit", "optimize")
PACKAGES = ("automixer", "torch", "ray", "duckdb", "pyarrow", "scikit-learn", "lightgbm", "optuna", "tokenizers",
            "matplotlib")

# Detail keys that count the work a run did; a run whose counts are all zero skipped finished work.
WORK_KEYS = {"curate": ("prefiltered", "finalized"), "dedup": ("signed", "clustered", "filtered"),
             "synth": ("docs", "rejected"), "sweep": ("trained",)}


def did_work(run: dict) -> bool:
    """Whether a stage run did work (a re-run that found everything finished did not)."""
    keys = WORK_KEYS.get(run["stage"])
    if not keys:
        return True
    detail = run["detail"]
    if run["stage"] == "sweep" and "trained" not in detail:
        return True  # recorded before the sweep counted its trained proxies
    return any(detail.get(k) for k in keys)


def wall_times(runs: list[dict]) -> list[dict]:
    """Per stage: the wall time of the last ok run that did the work, and how many re-runs followed it."""
    out = []
    for stage in STAGES + tuple(sorted({r["stage"] for r in runs} - set(STAGES))):
        ok = [r for r in runs if r["stage"] == stage and r["status"] == "ok"]
        if not ok:
            continue
        working = [r for r in ok if did_work(r)] or ok
        last = working[-1]
        later = [r for r in ok if r["started_at"] > last["started_at"]]
        failed = [r for r in runs if r["stage"] == stage and r["status"] != "ok"]
        out.append({"stage": stage, "wall time (s)": round(last["wall_s"], 1),
                    "started (UTC)": str(last["started_at"])[:19], "config hash": last["config_hash"],
                    "re-runs since, no work": len(later), "failed runs": len(failed)})
    return out


def versions() -> list[dict]:
    out = [{"package": "python", "version": platform.python_version()}]
    for name in PACKAGES:
        try:
            out.append({"package": name, "version": metadata.version(name)})
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(ctx: Context) -> Section:
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    parts = [table([{"key": "config", "value": ctx.config_path}, {"key": "config hash", "value": ctx.config.hash()},
                    {"key": "workdir", "value": str(ctx.workdir.resolve())}, {"key": "seed", "value": ctx.config.seed},
                    {"key": "report written (UTC)", "value": now}, {"key": "host", "value": platform.node()}])]
    parts.append(h3("Wall time per stage"))
    times = wall_times(ctx.runs)
    parts.append(para("The last run of each stage that did the work (a re-run that found everything finished "
                      "is counted apart). Times in UTC.", "note"))
    parts.append(table(times) if times else para("No stage has run yet.", "note"))
    if times:
        total = sum(t["wall time (s)"] for t in times)
        parts.append(para(f"Total: {total:,.1f} s."))
    parts.append(h3("Versions"))
    parts.append(table(versions()))
    return Section("provenance", "Provenance", "".join(parts), True)
