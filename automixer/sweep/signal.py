"""The sweep's signal statistics: do the proxies rank mixtures, or only seed noise?"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from automixer.mixing.columns import METRIC


def signal_report(runs: pa.Table) -> tuple[str, dict[str, float]]:
    """Per metric: spread across mixtures (std over the seed-0 sweep runs) against the seed-to-seed
    spread (RMS difference of repeated pairs / sqrt 2). A ratio well above 1 means the proxies rank
    mixtures rather than noise. With 2+ pairs, ``rank ratio`` also drops the mean pair difference:
    every sweep run shares one seed, so an offset common to all mixtures does not change the ranking."""
    rows = [r for r in runs.to_pylist() if r["status"] == "ok"]
    base = {r["run_id"]: r for r in rows if r["tag"] == "sweep"}
    pairs = [(base[r["repeat_of"]], r) for r in rows if r["tag"] == "seed_repeat" and r["repeat_of"] in base]
    if len(base) < 2 or not pairs:
        return "[sweep] signal: needs 2+ finished mixtures and 1+ seed repeat (sweep.seed_repeats)", {}
    lines = [f"[sweep] signal over {len(base)} mixtures, {len(pairs)} seed pairs",
             f"  {'metric':24s} {'mixture sd':>10s} {'seed sd':>9s} {'ratio':>7s} {'rank ratio':>10s}"]
    ratios = {}
    for m in (c for c in runs.column_names if c.startswith(METRIC)):
        across = np.array([r[m] for r in base.values() if r[m] is not None])
        diffs = np.array([a[m] - b[m] for a, b in pairs if a[m] is not None and b[m] is not None])
        if len(across) < 2 or not len(diffs):
            continue
        spread = across.std(ddof=1)
        seed_sd = float(np.sqrt(np.mean(diffs ** 2) / 2))
        ratios[m] = round(float(spread / seed_sd), 3) if seed_sd > 0 else float("inf")
        rank = "-"
        if len(diffs) >= 2:
            rank_sd = float(diffs.std(ddof=1) / np.sqrt(2))
            rank = f"{spread / rank_sd:.1f}" if rank_sd > 0 else "inf"
        lines.append(f"  {m:24s} {spread:10.4f} {seed_sd:9.4f} {ratios[m]:7.1f} {rank:>10s}")
    return "\n".join(lines), ratios
