"""Report sections of the data stages: sources and curation, dedup, synthetic data."""

from __future__ import annotations

from collections import defaultdict

from automixer.report import figures, queries
from automixer.report.context import Context
from automixer.report.html import Section, doc, figure, h3, not_run, pair, para, table


def _percent(rows: list[dict], key: str) -> list[dict]:
    """``rows`` with the fraction in ``key`` turned into a percentage (2 decimals)."""
    for r in rows:
        r[key] = round(100 * r[key], 2)
    return rows


def curation(ctx: Context) -> Section:
    title = "Sources and curation"
    if not ctx.ran("curate") or "curate_kept" not in ctx.names:
        return Section("curation", title, not_run("curation", ctx.command("curate")), False)
    cat, parts = ctx.cat, []
    sources = queries.curate_sources(cat)
    parts.append(para("Documents, tokens and bytes per source (ledger of the curate stage). Every input "
                      "document is kept, filtered or quarantined."))
    parts.append(table(sources, labels={"docs_in": "documents in", "pii_masked": "docs with PII masked",
                                        "tokens_kept": "tokens kept", "bytes_kept": "bytes kept"}))
    parts.append(h3("Quality buckets"))
    parts.append(table(queries.curate_buckets(cat), labels={"mean_score": "mean score"}))
    cuts = (ctx.last_run("curate")["detail"].get("thresholds") or [])
    hist = queries.score_histogram(cat)
    if hist:
        cut_text = ", ".join(f"{c:.3f}" for c in cuts) or "none (one bucket)"
        parts.append(figure(figures.score_histograms(hist, cuts, ctx.out_dir),
                            f"Quality-score distribution per source; bucket cuts at {cut_text} (bucket 0 = best)."))
    parts.append(_filter_reasons(ctx))
    parts.append(h3("Quarantine"))
    quarantine = queries.quarantine_reasons(cat)
    parts.append(table(quarantine) if quarantine else para("No document was quarantined.", "note"))
    return Section("curation", title, "".join(parts), True)


def _filter_reasons(ctx: Context) -> str:
    reasons = queries.filter_reasons(ctx.cat)
    parts = [h3("Filter reasons")]
    if not reasons:
        return parts[0] + para("No document was filtered.", "note")
    parts.append(table(reasons))
    if "curate_filtered" in ctx.names:
        parts.append(para("Examples per reason (text cut short, personal data masked):", "note"))
        for r in queries.filter_examples(ctx.cat):
            parts.append(doc(ctx.example(r["text"]), f"{r['reason']} - {r['source']} - {r['id'] or ''}"))
    return "".join(parts)


def dedup(ctx: Context) -> Section:
    title = "Dedup"
    if not ctx.ran("dedup") or "dedup_report" not in ctx.names:
        return Section("dedup", title, not_run("dedup", ctx.command("dedup")), False)
    report = _percent(queries.dedup_report(ctx.cat), "removal_rate")
    for r in report:
        r["bucket"] = "-" if r["bucket"] is None else f"q{r['bucket']}"
    parts = [para(f"Scope: {ctx.config.dedup.scope}; near-duplicate threshold {ctx.config.dedup.threshold} "
                  "(Jaccard). The keeper of a cluster is its best-quality copy."),
             table(report, labels={"removal_rate": "removed (%)", "docs_in": "docs in"})]
    sources = sorted({r["source"] for r in report})
    buckets = sorted({r["bucket"] for r in report})
    rate = {(r["source"], r["bucket"]): r["removal_rate"] for r in report}
    name = figures.grouped_bars(buckets, {s: [rate.get((s, b), 0.0) for b in buckets] for s in sources},
                                ctx.out_dir, "dedup_removal.png", xlabel="documents removed (%)",
                                ylabel="quality bucket (q0 = best)", title="Dedup removal rate per bucket and source",
                                values="%.1f")
    parts.append(figure(name, "Removal rate per quality bucket: do the best buckets lose more?"))
    parts.append(h3("Largest clusters"))
    clusters = queries.largest_clusters(ctx.cat) if "dedup_duplicates" in ctx.names else []
    if not clusters:
        parts.append(para("No duplicate was found.", "note"))
    for i, c in enumerate(clusters, 1):
        parts.append(para(f"Cluster {i}: {c['size']} documents ({c['reasons']} duplicates)"))
        parts.append(pair(doc(ctx.example(c["kept_text"]), f"kept ({c['kept_from']})"),
                          doc(ctx.example(c["removed_text"]), f"removed ({c['removed_from']})")))
    return Section("dedup", title, "".join(parts), True)


def synth(ctx: Context) -> Section:
    title = "Synthetic data"
    if not ctx.ran("synth") or "synth_tokens" not in ctx.names:
        return Section("synth", title, not_run("synthetic rewriting", ctx.command("synth")), False)
    tokens = _percent(queries.synth_tokens(ctx.cat), "token_share")
    total = sum(r["tokens"] for r in tokens)
    pool = queries.pool_tokens(ctx.cat)
    share = total / (total + pool) if total + pool else 0.0
    parts = [
        para(
            f"{total:,} synthetic tokens, {share:.1%} of the pool with them "
            "(limit in the optimized mixture: optimize.max_synthetic_share = "
            f"{ctx.config.optimize.max_synthetic_share})."
        ),
        table(tokens, labels={"token_share": "share of synthetic tokens (%)"}),
    ]
    if tokens:
        by = defaultdict(lambda: defaultdict(int))
        for r in tokens:
            by[r["backend"]][r["strategy"]] += r["tokens"]
        strategies = sorted({r["strategy"] for r in tokens})
        name = figures.grouped_bars(
            strategies,
            {b: [by[b][s] for s in strategies] for b in sorted(by)},
            ctx.out_dir,
            "synth_tokens.png",
            xlabel="synthetic tokens",
            ylabel="strategy",
            title="Synthetic tokens per strategy and backend",
        )
        parts.append(figure(name, "Synthetic tokens per strategy (one bar per backend)."))
    parts.append(h3("Rejections"))
    rejected = queries.synth_rejections(ctx.cat)
    parts.append(table(rejected) if rejected else para("No rewrite was rejected.", "note"))
    parts.append(h3("One example per strategy, beside its seed"))
    pool_view = next((v for v in ("dedup_kept", "curate_kept") if v in ctx.names), None)
    examples = queries.synth_examples(ctx.cat, pool_view) if "synth_docs" in ctx.names else []
    for e in examples:
        parents = (e["parent_id"] or "").split(",")
        if e["seed_text"]:
            seed = doc(ctx.example(e["seed_text"]), f"seed {parents[0]} ({e['source']})")
        elif len(parents) > 1:
            seed = para(f"Built from {len(parents)} extracted features or seed documents, not one seed.", "note")
        else:
            seed = para(f"Seed {parents[0] or '(none)'} is not in the pool any more.", "note")
        parts.append(para(f"{e['strategy']} ({e['backend']})"))
        parts.append(pair(seed, doc(ctx.example(e["text"]), "rewrite")))
    return Section("synth", title, "".join(parts), True)
