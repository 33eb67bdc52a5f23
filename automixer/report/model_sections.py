"""Report sections of the mixing stages: the swarm, the surrogates, the mixture and its validation."""

from __future__ import annotations

import csv

import numpy as np

from automixer.mixing.columns import METRIC, MIX
from automixer.report import figures, queries
from automixer.report.context import Context
from automixer.report.html import Section, figure, h3, not_run, para, table


def _metric_label(ctx: Context, metric: str) -> str:
    name = metric.removeprefix(METRIC)
    return f"{name} ({'higher' if name in ctx.higher else 'lower'} is better)"


def swarm(ctx: Context) -> Section:
    title = "The swarm"
    if not ctx.ran("sweep") or "proxy_runs" not in ctx.names:
        return Section("swarm", title, not_run("the proxy sweep", ctx.command("sweep")), False)
    runs = queries.table_rows(ctx.cat, "proxy_runs")
    comps = [c for c in (runs[0] if runs else {}) if c.startswith(MIX)]
    metrics = [c for c in (runs[0] if runs else {}) if c.startswith(METRIC)]
    ok = [r for r in runs if r["status"] == "ok"]
    parts = [para(f"{len(ok)} of {len(runs)} proxies finished over {len(comps)} components; "
                  f"{ctx.config.proxy.train.steps} steps of {ctx.config.proxy.train.batch_size} x "
                  f"{ctx.config.proxy.model.seq_len} tokens each.")]
    if runs and comps:
        W = np.array([[r[c] or 0.0 for c in comps] for r in runs])
        name = figures.heatmap([r["run_id"] for r in runs], [c[len(MIX):] for c in comps], W, ctx.out_dir,
                               "swarm_mixtures.png", xlabel="component", ylabel="run", title="Sampled mixtures",
                               cbar="weight", annotate=len(runs) <= 16)
        parts.append(figure(name, "Mixture weights of every proxy run (rows) per component (columns)."))
    parts.append(h3("Metrics per run"))
    cols = ["run_id", "tag", "status", *metrics, "tokens_seen", "wall_s"]
    shown = [{k: (round(r[k], 4) if isinstance(r.get(k), float) else r.get(k)) for k in cols} for r in runs]
    parts.append(table(shown, cols, labels={m: m.removeprefix(METRIC) for m in metrics}))
    parts.append(h3("Signal per group"))
    parts.append(_signal(ctx, runs))
    failed = [r for r in runs if r["status"] != "ok"]
    parts.append(h3("Failed runs"))
    parts.append(table(failed, ["run_id", "tag", "attempts", "error"]) if failed
                 else para("No run failed.", "note"))
    return Section("swarm", title, "".join(parts), True)


def _signal(ctx: Context, runs: list[dict]) -> str:
    import pyarrow as pa

    from automixer.sweep.signal import signal_table

    rows = signal_table(pa.Table.from_pylist(runs))
    if not rows:
        return para("Needs 2+ finished mixtures and 1+ seed repeat (sweep.seed_repeats) to tell signal from noise.",
                    "note")
    for r in rows:
        r["group"] = r["metric"].removeprefix(METRIC).split("_")[0]
        r["metric"] = _metric_label(ctx, r["metric"])
    return (para("Spread across mixtures against seed-to-seed spread; a ratio well above 1 means the proxies "
                 "rank mixtures rather than noise.", "note")
            + table(rows, ["group", "metric", "mixture_sd", "seed_sd", "ratio", "rank_ratio"],
                    labels={"mixture_sd": "mixture sd", "seed_sd": "seed sd", "rank_ratio": "rank ratio"}))


def surrogates(ctx: Context) -> Section:
    title = "Surrogates"
    if not ctx.ran("fit") or "surrogate_scores" not in ctx.names:
        return Section("surrogates", title, not_run("surrogate fitting", ctx.command("fit")), False)
    scores = queries.table_rows(ctx.cat, "surrogate_scores")
    for r in scores:
        r["target"] = _metric_label(ctx, r["target"])
    cols = [
        c for c in ("target", "surrogate", "spearman", "r2", "mae", "chosen", "n_runs") if scores and c in scores[0]
    ]
    parts = [
        para(
            f"Cross-validated ({ctx.config.fit.cv_folds} folds) per target and candidate model; the chosen "
            "model of each target is in bold."
        ),
        table(scores, cols, highlight="chosen"),
    ]
    folder = ctx.surrogate_dir
    oof = folder / "cv_predictions.csv"
    if oof.exists():
        points: dict[str, tuple[list, list, str]] = {}
        with oof.open(newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                m, p, _ = points.setdefault(r["target"].removeprefix(METRIC), ([], [], r["surrogate"]))
                m.append(float(r["measured"]))
                p.append(float(r["predicted"]))
        parts.append(
            figure(
                figures.predicted_vs_measured(points, ctx.out_dir),
                "Out-of-fold predictions against measured values (dashed: perfect prediction).",
            )
        )
    parts.append(h3("Influence: which component drives which group"))
    parts.append(_influence(ctx, folder / "influence.csv"))
    return Section("surrogates", title, "".join(parts), True)


def _influence(ctx: Context, path) -> str:
    if not path.exists():
        return para(f"No influence table ({path}) from this fit.", "note")
    effect: dict[tuple[str, str], float] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            effect[(r["component"], r["group"])] = float(r["effect"])
    comps = sorted({c for c, _ in effect})
    groups = sorted({g for _, g in effect})
    values = np.array([[effect.get((c, g), np.nan) for g in groups] for c in comps])
    name = figures.heatmap(
        comps,
        groups,
        values,
        ctx.out_dir,
        "influence.png",
        xlabel="capability group",
        ylabel="component",
        title="Influence of each component on each group",
        cbar="effect (positive = improves the group)",
        diverging=True,
        annotate=True,
    )
    return figure(name, "Signed effect of each component's weight on each group's score (positive improves it).")


def mixture(ctx: Context) -> Section:
    title = "The mixture"
    mix = ctx.mixture
    if mix is None:
        return Section("mixture", title, not_run("the optimizer", ctx.command("optimize")), False)
    comps = list(mix.weights)
    natural = mix.baselines.get("natural", {}).get("weights", {})
    uniform = mix.baselines.get("uniform", {}).get("weights", {})
    rows = [
        {
            "component": c,
            "chosen": round(mix.weights[c], 4),
            "natural": _r(natural.get(c)),
            "uniform": _r(uniform.get(c)),
            "tokens": mix.tokens(c) if mix.token_budget else None,
            "available tokens": mix.available_tokens.get(c),
            "epochs": mix.epochs(c),
        }
        for c in comps
    ]
    series = {"chosen": [mix.weights[c] for c in comps]}
    series.update({k: [w.get(c, 0.0) for c in comps] for k, w in (("natural", natural), ("uniform", uniform)) if w})
    parts = [
        para(f"{ctx.mixture_path}: solver {mix.solver.get('name', '?')}, token budget {mix.token_budget:,}."),
        figure(
            figures.grouped_bars(
                comps,
                series,
                ctx.out_dir,
                "mixture.png",
                xlabel="weight",
                ylabel="component",
                title="Chosen mixture against natural and uniform",
            ),
            "Weight per component: the optimized mixture beside the natural and uniform ones.",
        ),
        table(rows),
    ]
    parts.append(h3("Predicted scores"))
    parts.append(table(_predicted_rows(ctx, mix)))
    parts.append(h3("Constraints that bind"))
    bind = binding_constraints(mix, ctx.config.optimize, ctx.synthetic_components())
    parts.append(table(bind) if bind else para("No constraint binds: the optimum is inside the feasible set.", "note"))
    tr = mix.trust_region or {}
    if tr:
        parts.append(
            para(
                f"Trust region: L1 distance {tr.get('distance', 0):.3f} to the nearest sampled mixture "
                f"(limit {tr.get('limit')})."
            )
        )
    solvers = [{"solver": k, **v} for k, v in (mix.solver.get("results") or {}).items()]
    if solvers:
        parts.append(h3("Solvers (objective: lower is better)"))
        parts.append(table(solvers))
    return Section("mixture", title, "".join(parts), True)


def _count(value) -> str:
    return "?" if value is None else f"{int(value):,}"


def _r(value):
    return None if value is None else round(float(value), 4)


def _predicted_rows(ctx: Context, mix) -> list[dict]:
    out = []
    for metric, pred in mix.predicted.items():
        row = {"metric": _metric_label(ctx, metric), "optimized": _pm(pred)}
        for name in ("natural", "uniform"):
            row[name] = _pm(mix.baselines.get(name, {}).get("predicted", {}).get(metric))
        out.append(row)
    objective = {"metric": "objective (z-score sum)", "optimized": f"{mix.objective.get('value', float('nan')):+.3f}"}
    objective.update({n: f"{mix.baselines[n]['objective']:+.3f}" for n in ("natural", "uniform") if n in mix.baselines})
    return out + [objective]


def _pm(pred: dict | None) -> str:
    if not pred:
        return ""
    std = pred.get("std")
    return f"{pred['mean']:.4g}" + (f" +- {std:.2g}" if std is not None else "")


def binding_constraints(mix, cfg, synthetic: set[str], tol: float = 1e-3) -> list[dict]:
    """Constraints the chosen mixture sits on: weight bounds, max epochs, synthetic share, trust region."""
    out = []
    for c, w in mix.weights.items():
        if c in cfg.min_weight and w <= cfg.min_weight[c] + tol:
            out.append({"constraint": f"optimize.min_weight.{c}", "value": round(w, 4), "limit": cfg.min_weight[c]})
        if c in cfg.max_weight and w >= cfg.max_weight[c] - tol:
            out.append({"constraint": f"optimize.max_weight.{c}", "value": round(w, 4), "limit": cfg.max_weight[c]})
        epochs = mix.epochs(c)
        if cfg.max_epochs > 0 and epochs is not None and epochs >= cfg.max_epochs * (1 - tol):
            out.append({"constraint": f"optimize.max_epochs ({c})", "value": epochs, "limit": cfg.max_epochs})
    share = sum(w for c, w in mix.weights.items() if c in synthetic)
    if synthetic and share >= cfg.max_synthetic_share - tol:
        out.append(
            {"constraint": "optimize.max_synthetic_share", "value": round(share, 4), "limit": cfg.max_synthetic_share}
        )
    tr = mix.trust_region or {}
    if tr.get("limit", 2.0) < 2.0 and tr.get("distance", 0.0) >= tr["limit"] - tol:
        out.append({"constraint": "optimize.trust_region", "value": round(tr["distance"], 4), "limit": tr["limit"]})
    return out


def validation(ctx: Context) -> Section:
    title = "Validation"
    mix = ctx.mixture
    val = (mix.validation or {}) if mix is not None else {}
    scale_up = "scale_up_runs" in ctx.names
    if not val.get("measured") and not scale_up:
        return Section(
            "validation", title, not_run("validation of the mixture", ctx.command("optimize") + " --validate"), False
        )
    parts = []
    if val.get("measured"):
        parts.append(
            para(
                "Proxies trained with the sweep's recipe on the chosen, natural and uniform mixtures: "
                "measured against what the surrogates predicted."
            )
        )
        parts.append(table(_validation_rows(ctx, mix, val)))
        labels = [n for n in val["measured"] if val["measured"][n].get("objective") is not None]
        if labels:
            series = {
                "predicted": [val["predicted_objective"].get(n, np.nan) for n in labels],
                "measured": [val["measured"][n]["objective"] for n in labels],
            }
            parts.append(
                figure(
                    figures.grouped_bars(
                        labels,
                        series,
                        ctx.out_dir,
                        "validation.png",
                        xlabel="objective (lower is better)",
                        ylabel="mixture",
                        title="Predicted and measured objective",
                    ),
                    "Objective of each validated mixture, predicted and measured.",
                )
            )
        best = val.get("best_sampled")
        if best:
            parts.append(para(f"Best sampled run {best['run_id']}: measured objective {best['objective']:+.3f}."))
    parts.append(h3("Scale-up"))
    parts.append(
        _scale_up(ctx, val)
        if scale_up
        else para(
            "No scale-up result (catalog table scale_up_runs): the mixture has not been tried at a larger scale yet.",
            "note",
        )
    )
    return Section("validation", title, "".join(parts), True)


def _validation_rows(ctx: Context, mix, val: dict) -> list[dict]:
    out = []
    for name, m in val["measured"].items():
        predicted = mix.predicted if name == "optimized" else mix.baselines.get(name, {}).get("predicted", {})
        row = {
            "mixture": name,
            "status": m.get("status"),
            "objective predicted": _r(val.get("predicted_objective", {}).get(name)),
            "objective measured": _r(m.get("objective")),
        }
        for metric, value in sorted((m.get("metrics") or {}).items()):
            short = metric.removeprefix(METRIC)
            pred = predicted.get(metric)
            row[short] = f"{value:.4g}" + (f" (pred. {_pm(pred)})" if pred else "")
        out.append(row)
    return out


def _scale_up(ctx: Context, val: dict) -> str:
    summary = queries.scale_up_summary(ctx.cat)
    if not summary:
        return para("The scale_up_runs table has no finished run.", "note")
    size = (val.get("scale_up") or {}).get("size") or {}
    ratio = (size.get("ratio") or {}).get("params")
    parts = [
        para(
            f"Models of {_count(summary[0]['params'])} parameters trained on {_count(summary[0]['tokens'])} "
            f"tokens" + (f" ({ratio}x the proxies' parameters)" if ratio else "") + "; mean and seed sd per mixture."
        )
    ]
    for line in (val.get("scale_up") or {}).get("lines") or []:
        parts.append(para(line, "note"))
    mixtures = list(dict.fromkeys(r["mixture"] for r in summary))
    shown: dict[str, dict] = {}
    for r in summary:
        row = shown.setdefault(r["metric"], {"metric": _metric_label(ctx, r["metric"]), "seeds": r["seeds"]})
        row[r["mixture"]] = _pm({"mean": r["mean"], "std": r["seed_sd"]})
    parts.append(table(list(shown.values()), ["metric", *mixtures, "seeds"]))
    objective = set(ctx.mixture.objective.get("metrics") or []) | {METRIC + m for m in ctx.config.optimize.objective}
    metrics = [m for m in dict.fromkeys(r["metric"] for r in summary) if m in objective] or list(
        dict.fromkeys(r["metric"] for r in summary)
    )[:4]
    panels = {
        _metric_label(ctx, m): (
            [r["mixture"] for r in summary if r["metric"] == m],
            [r["mean"] for r in summary if r["metric"] == m],
            [r["seed_sd"] for r in summary if r["metric"] == m],
        )
        for m in metrics
    }
    name = figures.bars_with_errors(panels, ctx.out_dir, "scale_up.png", xlabel="mean over seeds (error bar: seed sd)")
    parts.append(figure(name, "Scale-up: each mixture's score at the larger model size."))
    return "".join(parts)
