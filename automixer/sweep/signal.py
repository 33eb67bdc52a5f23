"""The sweep's signal statistics: do the proxies rank mixtures, or only seed noise?"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from automixer.mixing.columns import METRIC


def signal_table(runs: pa.Table) -> list[dict]:
    """Per metric: spread across mixtures (std over the seed-0 sweep runs) against the seed-to-seed
    spread (RMS difference of repeated pairs / sqrt 2). A ratio well above 1 means the proxies rank
    mixtures rather than noise. With 2+ pairs, ``rank_ratio`` also drops the mean pair difference:
    every sweep run shares one seed, so an offset common to all mixtures does not change the ranking.
    Empty without 2+ finished mixtures and 1+ seed repeat."""
    rows = [r for r in runs.to_pylist() if r["status"] == "ok"]
    base = {r["run_id"]: r for r in rows if r["tag"] == "sweep"}
    pairs = [(base[r["repeat_of"]], r) for r in rows if r["tag"] == "seed_repeat" and r["repeat_of"] in base]
    if len(base) < 2 or not pairs:
        return []
    out = []
    for m in (c for c in runs.column_names if c.startswith(METRIC)):
        across = np.array([r[m] for r in base.values() if r[m] is not None])
        diffs = np.array([a[m] - b[m] for a, b in pairs if a[m] is not None and b[m] is not None])
        if len(across) < 2 or not len(diffs):
            continue
        spread = float(across.std(ddof=1))
        seed_sd = float(np.sqrt(np.mean(diffs ** 2) / 2))
        rank = None
        if len(diffs) >= 2:
            rank_sd = float(diffs.std(ddof=1) / np.sqrt(2))
            rank = round(spread / rank_sd, 3) if rank_sd > 0 else float("inf")
        out.append({"metric": m, "mixtures": len(base), "seed_pairs": len(pairs), "mixture_sd": round(spread, 4),
                    "seed_sd": round(seed_sd, 4),
                    "ratio": round(spread / seed_sd, 3) if seed_sd > 0 else float("inf"), "rank_ratio": rank})
    return out


def signal_report(runs: pa.Table) -> tuple[str, dict[str, float]]:
    """signal_table as text lines, and the ratio per metric."""
    table = signal_table(runs)
    if not table:
        return "[sweep] signal: needs 2+ finished mixtures and 1+ seed repeat (sweep.seed_repeats)", {}
    lines = [f"[sweep] signal over {table[0]['mixtures']} mixtures, {table[0]['seed_pairs']} seed pairs",
             f"  {'metric':24s} {'mixture sd':>10s} {'seed sd':>9s} {'ratio':>7s} {'rank ratio':>10s}"]
    for r in table:
        rank = "-" if r["rank_ratio"] is None else f"{r['rank_ratio']:.1f}"
        lines.append(f"  {r['metric']:24s} {r['mixture_sd']:10.4f} {r['seed_sd']:9.4f} {r['ratio']:7.1f} {rank:>10s}")
    return "\n".join(lines), {r["metric"]: r["ratio"] for r in table}
