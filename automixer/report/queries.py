"""DuckDB aggregates for the report, read from the catalog's tables and its views over the shards.

Only aggregates and a handful of example rows (text cut in SQL) leave DuckDB: no shard is loaded whole.
Each function takes a read-only ``Catalog`` and returns rows as dicts.
"""

from __future__ import annotations

import json

from automixer.catalog import Catalog

TEXT_CHARS = 2000
"""Characters of an example text read from a shard (the page cuts it shorter)."""


def rows(cat: Catalog, sql: str, params: list | None = None) -> list[dict]:
    return cat.query(sql, params).to_pylist()


def relations(cat: Catalog) -> set[str]:
    """Names of the catalog's tables and views."""
    return {r["table_name"] for r in rows(cat, "SELECT table_name FROM information_schema.tables")}


def stage_runs(cat: Catalog) -> list[dict]:
    """Every recorded stage run, oldest first, with its detail parsed."""
    out = rows(cat, "SELECT stage, started_at, wall_s, status, config_hash, detail FROM stage_runs ORDER BY started_at")
    for r in out:
        r["detail"] = json.loads(r["detail"] or "{}")
    return out


# --- curation -----------------------------------------------------------------------------------
def curate_sources(cat: Catalog) -> list[dict]:
    """Per source: documents in, kept, filtered, quarantined, PII-masked; tokens and bytes kept."""
    return rows(cat, """
        SELECT source,
          coalesce(sum(docs) FILTER (WHERE outcome = 'in'), 0)::BIGINT AS docs_in,
          coalesce(sum(docs) FILTER (WHERE outcome = 'kept'), 0)::BIGINT AS kept,
          coalesce(sum(docs) FILTER (WHERE outcome = 'filtered'), 0)::BIGINT AS filtered,
          coalesce(sum(docs) FILTER (WHERE outcome = 'quarantined'), 0)::BIGINT AS quarantined,
          coalesce(sum(docs) FILTER (WHERE outcome = 'pii_masked'), 0)::BIGINT AS pii_masked,
          coalesce(sum(tokens) FILTER (WHERE outcome = 'kept'), 0)::BIGINT AS tokens_kept,
          coalesce(sum(bytes) FILTER (WHERE outcome = 'kept'), 0)::BIGINT AS bytes_kept
        FROM ledger WHERE stage = 'curate' GROUP BY source ORDER BY source""")


def curate_buckets(cat: Catalog) -> list[dict]:
    """Per source and quality bucket: kept documents, tokens, bytes and mean score."""
    return rows(cat, """
        SELECT source, bucket, count(*) AS docs, sum(n_tokens)::BIGINT AS tokens, sum(n_bytes)::BIGINT AS bytes,
          round(avg(quality_score), 3) AS mean_score
        FROM curate_kept GROUP BY ALL ORDER BY source, bucket""")


def score_histogram(cat: Catalog, width: float = 0.5) -> list[dict]:
    """Per source: documents per quality-score bin, over every scored document. Bins are ``width`` wide
    in logit(score) (scores clipped to [1e-4, 1 - 1e-4]): quantile bucket cuts often sit near 0 or 1.
    ``bin`` is the lower edge in logit units."""
    relation = "curate_kept"
    if "curate_filtered" in relations(cat):  # documents dropped by bucket retention were scored too
        relation = ("(SELECT source, quality_score FROM curate_kept UNION ALL "
                    "SELECT source, quality_score FROM curate_filtered)")
    return rows(cat, f"""
        SELECT source, floor(ln(p / (1 - p)) / {width}) * {width} AS bin, count(*) AS docs
        FROM (SELECT source, greatest(least(quality_score, 1 - 1e-4), 1e-4) AS p FROM {relation}
              WHERE quality_score IS NOT NULL)
        GROUP BY ALL ORDER BY source, bin""")


def filter_reasons(cat: Catalog) -> list[dict]:
    """Filtered documents per reason (the part before any ':') and source."""
    return rows(cat, """
        SELECT split_part(reason, ':', 1) AS reason, source, sum(docs)::BIGINT AS docs, sum(tokens)::BIGINT AS tokens
        FROM ledger WHERE stage = 'curate' AND outcome = 'filtered' GROUP BY ALL ORDER BY docs DESC, reason, source""")


def quarantine_reasons(cat: Catalog) -> list[dict]:
    return rows(cat, """
        SELECT reason, source, sum(docs)::BIGINT AS docs, sum(bytes)::BIGINT AS bytes
        FROM ledger WHERE stage = 'curate' AND outcome = 'quarantined' GROUP BY ALL ORDER BY docs DESC, reason""")


def filter_examples(cat: Catalog, per_reason: int = 2) -> list[dict]:
    """A few filtered documents per reason (the shortest-id ones, so the choice is stable)."""
    return rows(cat, f"""
        SELECT reason, source, id, left(text, {TEXT_CHARS}) AS text FROM (
          SELECT split_part(reason, ':', 1) AS reason, source, id, text,
                 row_number() OVER (PARTITION BY split_part(reason, ':', 1) ORDER BY doc_id) AS k
          FROM curate_filtered)
        WHERE k <= ? ORDER BY reason, k""", [per_reason])


# --- dedup --------------------------------------------------------------------------------------
def dedup_report(cat: Catalog) -> list[dict]:
    return rows(cat, "SELECT * FROM dedup_report ORDER BY source, bucket NULLS LAST")


def largest_clusters(cat: Catalog, n: int = 5) -> list[dict]:
    """The ``n`` largest duplicate clusters: size, reasons, one kept and one removed document each."""
    return rows(
        cat,
        f"""
        WITH c AS (
          SELECT dup_cluster, count(*) AS removed, string_agg(DISTINCT reason, ', ') AS reasons,
                 min(doc_id) AS removed_doc
          FROM dedup_duplicates GROUP BY dup_cluster ORDER BY removed DESC, dup_cluster LIMIT ?)
        SELECT c.removed + 1 AS size, c.reasons,
          (SELECT source || ' q' || coalesce(bucket::VARCHAR, '-') FROM dedup_kept k
           WHERE k.doc_id = c.dup_cluster LIMIT 1) AS kept_from,
          (SELECT left(text, {TEXT_CHARS}) FROM dedup_kept k WHERE k.doc_id = c.dup_cluster LIMIT 1) AS kept_text,
          (SELECT source || ' q' || coalesce(bucket::VARCHAR, '-') FROM dedup_duplicates d
             WHERE d.dup_cluster = c.dup_cluster AND d.doc_id = c.removed_doc LIMIT 1) AS removed_from,
          (SELECT left(text, {TEXT_CHARS}) FROM dedup_duplicates d
             WHERE d.dup_cluster = c.dup_cluster AND d.doc_id = c.removed_doc LIMIT 1) AS removed_text
        FROM c ORDER BY size DESC, c.dup_cluster""",
        [n],
    )


# --- synth --------------------------------------------------------------------------------------
def synth_tokens(cat: Catalog) -> list[dict]:
    return rows(cat, "SELECT * FROM synth_tokens ORDER BY strategy, source, backend")


def synth_rejections(cat: Catalog) -> list[dict]:
    return rows(
        cat,
        """
        SELECT reason, source, sum(docs)::BIGINT AS docs FROM ledger
        WHERE stage = 'synth' AND outcome = 'rejected' GROUP BY ALL ORDER BY docs DESC, reason""",
    )


def pool_tokens(cat: Catalog) -> int:
    """Tokens of the deduplicated (else curated) pool the synthetic documents are added to."""
    stage = "dedup" if rows(cat, "SELECT 1 FROM ledger WHERE stage = 'dedup' LIMIT 1") else "curate"
    total = rows(cat, "SELECT sum(tokens)::BIGINT AS t FROM ledger WHERE stage = ? AND outcome = 'kept'", [stage])
    return int(total[0]["t"] or 0)


def synth_examples(cat: Catalog, pool_view: str | None) -> list[dict]:
    """One synthetic document per strategy with its seed document's text (null for multi-seed strategies)."""
    seed = (
        f"(SELECT left(text, {TEXT_CHARS}) FROM {pool_view} p WHERE p.doc_id = s.parent_id LIMIT 1)"
        if pool_view
        else "NULL"
    )
    return rows(
        cat,
        f"""
        SELECT s.synth_strategy AS strategy, s.synth_backend AS backend, s.source, s.parent_id,
               left(s.text, {TEXT_CHARS}) AS text, {seed} AS seed_text
        FROM (SELECT *, row_number() OVER (PARTITION BY synth_strategy ORDER BY doc_id) AS k FROM synth_docs) s
        WHERE s.k = 1 ORDER BY s.synth_strategy""",
    )


# --- later stages -------------------------------------------------------------------------------
def table_rows(cat: Catalog, name: str) -> list[dict]:
    """All rows of a small table (proxy_runs, surrogate_scores, scale_up_runs, ...)."""
    return rows(cat, f'SELECT * FROM "{name}"')


def scale_up_summary(cat: Catalog) -> list[dict]:
    """Per metric and mixture of the scale-up runs: mean, seed sd, seeds, model size (ok runs only)."""
    cols = cat.query("SELECT * FROM scale_up_runs LIMIT 0").column_names
    where = "WHERE status = 'ok'" if "status" in cols else ""
    return rows(
        cat,
        f"""
        SELECT metric, mixture, avg(value) AS mean, stddev_samp(value) AS seed_sd, count(*) AS seeds,
               max(params) AS params, max(tokens) AS tokens
        FROM (UNPIVOT (SELECT * FROM scale_up_runs {where}) ON COLUMNS('^metric/') INTO NAME metric VALUE value)
        GROUP BY ALL ORDER BY metric, mixture""",
    )


def higher_is_better(cat: Catalog, names: set[str], configured: list[str], runs_file=None) -> set[str]:
    """Metrics (without ``metric/``) where higher is better: those in ``configured`` (fit.higher_is_better)
    and those the run recorded, in the catalog table metric_directions or else in the runs table's Parquet
    schema metadata key ``automixer.higher_is_better`` (a JSON list)."""
    found = {m.removeprefix("metric/") for m in configured}
    if "metric_directions" in names:
        recorded = rows(cat, "SELECT metric FROM metric_directions WHERE higher_is_better")
        return found | {r["metric"].removeprefix("metric/") for r in recorded}
    if runs_file is not None and runs_file.exists():
        import pyarrow.parquet as pq

        meta = pq.read_schema(runs_file).metadata or {}
        if b"automixer.higher_is_better" in meta:
            found |= {m.removeprefix("metric/") for m in json.loads(meta[b"automixer.higher_is_better"])}
    return found
