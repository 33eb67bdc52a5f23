"""The report section of the data experts: the MDE estimate of every sampled run against what its proxy measured."""

from __future__ import annotations

import json

import numpy as np
from scipy.stats import spearmanr

from automixer.mixing.columns import EXPERT_TAG, METRIC, MIX
from automixer.mixing.mde import EXPERTS, MANIFEST, finished_experts, load_estimator
from automixer.report import figures, queries
from automixer.report.context import Context
from automixer.report.html import Section, figure, h3, not_run, para, table

TITLE = "Mixtures of data experts"


def experts(ctx: Context) -> Section:
    root = ctx.config.workdir_path / EXPERTS
    if not ctx.ran("sweep") or "proxy_runs" not in ctx.names:
        return Section("experts", TITLE, not_run("the proxy sweep", ctx.command("sweep")), False)
    runs = [r for r in queries.table_rows(ctx.cat, "proxy_runs") if r["status"] == "ok" and r["tag"] != EXPERT_TAG]
    comps = [c.removeprefix(MIX) for c in (runs[0] if runs else {}) if c.startswith(MIX)]
    if not runs or not comps or any(c not in finished_experts(root) for c in comps):
        return Section("experts", TITLE, para("No data experts for these components (sweep.experts is off, or "
                                              f"the sweep has not trained them yet; {root})", "note"), True)
    est = load_estimator(root, comps)
    X = np.array([[r[MIX + c] or 0.0 for c in comps] for r in runs])
    names = [n for n in est.names() if n.endswith("_bpb") and not n.startswith("set:") and METRIC + n in runs[0]]
    estimates = est.estimate(X, names)
    panels, rows = {}, []
    for n in names:
        measured = np.array([r[METRIC + n] for r in runs], float)
        ok = np.isfinite(measured)
        rho = float(spearmanr(estimates[n][ok], measured[ok]).statistic) if ok.sum() > 2 else float("nan")
        panels[f"{n} (Spearman {rho:.2f})"] = (measured[ok].tolist(), estimates[n][ok].tolist())
        rows.append({"metric": n, "runs": int(ok.sum()), "spearman": round(rho, 3),
                     "measured_mean": round(float(measured[ok].mean()), 4),
                     "estimate_mean": round(float(estimates[n][ok].mean()), 4)})
    parts = [para(f"One expert per component ({len(comps)}), each a proxy trained on that component alone. The "
                  "MDE estimate of a mixture is the bits per byte of the weighted average of the experts' token "
                  "probabilities: no training. Below, the estimate of every sampled run's mixture against what "
                  "its proxy measured; fit uses it as a feature (fit.features)."),
             table(rows, ["metric", "runs", "spearman", "measured_mean", "estimate_mean"],
                   labels={"measured_mean": "mean measured", "estimate_mean": "mean estimate"})]
    if panels:
        name = figures.scatter_panels(panels, ctx.out_dir, "mde_vs_measured.png", xlabel="measured (bpb)",
                                      ylabel="MDE estimate (bpb)")
        parts.append(figure(name, "MDE estimate against the measured score, one point per sampled run."))
    parts.append(h3("The experts"))
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8")) if (root / MANIFEST).exists() else {}
    cols = ["component", "epochs", "tokens_seen", "bytes"]
    shown = [{k: e.get(k) for k in cols} for e in manifest.get("experts", [])]
    parts.append(table(shown, cols,
                       labels={"tokens_seen": "tokens seen", "bytes": "bytes stored"}))
    return Section("experts", TITLE, "".join(parts), True)
