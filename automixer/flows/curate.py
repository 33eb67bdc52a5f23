"""The curate stage: sources -> curated shards (kept / filtered / quarantine), tokenizer, classifier.

Order of work, each step resumable:
1. prefilter, one Ray task per unit (a source file, or a group of text files): ingest, normalise, mask
   PII, heuristic filters -> <workdir>/curate/_staging/{passed,filtered,quarantine}/<unit>.parquet;
2. the quality classifier (<workdir>/classifier/) and tokenizer (<workdir>/tokenizer.json), trained on
   the staged pool unless they exist;
3. bucket thresholds from the scores of the whole pool (a Ray scoring pass) unless fixed in the config;
4. finalize, one Ray task per unit: score, bucket, retain, count tokens -> <workdir>/curate/{kept,filtered,
   quarantine}/<unit>.parquet. A finished unit is redone only when the classifier, tokenizer or
   thresholds changed (their fingerprint is stored with the unit). Likewise a staged unit is redone
   when the filter, PII or source settings changed;
5. catalog: views curate_<kind>, ledger rows, table curate_stats.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from automixer.catalog import Catalog, ledger_from_docs, ledger_rows
from automixer.config import RunConfig
from automixer.runtime import ray_iter_rows, ray_map_rows
from automixer.stage_run import stage_run
from automixer.typed_yaml import to_plain
from curation.buckets import quantile_thresholds
from curation.classifier import QualityClassifier, Scorer
from curation.ingest import Unit, plan_units
from curation.pipeline import Finalize, Prefilter, shard_tables
from curation.tokenizer import TokenCounter, save_tokenizer, train_tokenizer
from dataplane.schema import conform
from dataplane.store import StageStore, atomic_write_text, ensure_dir, write_parquet

STAGE = "curate"
KINDS = ("kept", "filtered", "quarantine")
STAGING = "curate/_staging"
MARK_EVERY_S = 1.0
"""Finished units are written to the manifest at most this often (seconds); see _mark_as_they_finish."""

STATS_SQL = """
SELECT 'curate' AS stage, source, bucket, count(*) AS docs, sum(n_tokens) AS tokens, sum(n_bytes) AS bytes,
  avg(quality_score) AS score_mean, quantile_cont(quality_score, 0.1) AS score_p10,
  quantile_cont(quality_score, 0.5) AS score_p50, quantile_cont(quality_score, 0.9) AS score_p90,
  quantile_cont(n_bytes, 0.1) AS bytes_p10, quantile_cont(n_bytes, 0.5) AS bytes_p50,
  quantile_cont(n_bytes, 0.9) AS bytes_p90, quantile_cont(n_tokens, 0.5) AS tokens_p50
FROM curate_kept GROUP BY ALL ORDER BY source, bucket
"""


def _say(message: str) -> None:
    print(f"[curate] {message}", flush=True)


# --- step 1: prefilter ------------------------------------------------------------------------
def _prefilter_unit(row: dict, *, config: RunConfig, workdir: str) -> dict:
    unit = Unit(row["name"], row["source"], tuple(row["paths"]))
    staging = StageStore(workdir, STAGING)
    step = Prefilter(config.curation, config.sources)
    result = step(unit.paths_table())
    files = {}
    for kind, table in shard_tables(result).items():
        files[kind] = [str(write_parquet(staging.shard_path(kind, unit.name), table))]
    return {"unit": unit.name, "files": files, "counts": Prefilter.counts(result)}


def _prefilter_hash(config: RunConfig) -> str:
    """Hash of the settings that shape prefilter output: a unit staged under other settings is redone."""
    plain = to_plain(config.curation)
    settings = {k: v for k, v in plain.items() if k not in ("classifier", "tokenizer", "num_buckets",
                                                              "bucket_thresholds", "keep_fractions")}
    blob = json.dumps([settings, to_plain(config.sources)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _prefilter(config: RunConfig, units: list[Unit], staging: StageStore, workdir: Path) -> int:
    done, settings = staging.done_units(), _prefilter_hash(config)
    todo = [u for u in units if done.get(u.name, {}).get("counts", {}).get("settings") != settings]
    _say(f"prefilter: {len(todo)} of {len(units)} units to do")
    rows = [{"name": u.name, "source": u.source, "paths": list(u.paths)} for u in todo]
    results = ray_iter_rows(_prefilter_unit, rows, config=config, workdir=str(workdir))
    _mark_as_they_finish(staging, results, lambda r: {"settings": settings, "sources": r["counts"]})
    return len(todo)


def _mark_as_they_finish(store: StageStore, results: Iterator[dict], counts: Callable[[dict], dict]) -> None:
    """Mark each unit done as its result arrives, so a kill loses only unfinished units.

    The manifest is rewritten at most every MARK_EVERY_S seconds (and when the step ends or fails):
    thousands of small units do not rewrite it thousands of times.
    """
    pending: dict[str, tuple] = {}
    last = float("-inf")
    try:
        for r in results:
            pending[r["unit"]] = (r["files"], counts(r))
            if time.monotonic() - last >= MARK_EVERY_S:
                store.mark_many_done(pending)
                pending, last = {}, time.monotonic()
    finally:
        if pending:
            store.mark_many_done(pending)


# --- step 2: classifier and tokenizer ---------------------------------------------------------
def _pool_texts(staging: StageStore, units: list[Unit], columns=("source", "text")) -> pa.Table:
    done = staging.done_units()
    paths = [staging.root / p for u in units for p in done[u.name]["files"]["passed"]]
    return pa.concat_tables([pq.read_table(p, columns=list(columns)) for p in paths])


def _sample(items: list, n: int, rng: np.random.Generator) -> list:
    if len(items) <= n:
        return items
    return [items[i] for i in sorted(rng.choice(len(items), size=n, replace=False))]


def _train_classifier(config: RunConfig, pool: pa.Table, folder: Path) -> dict:
    cfg = config.curation.classifier
    reference = {s.name for s in config.sources if s.reference}
    rng = np.random.default_rng(config.seed)
    sources, texts = pool.column("source").to_pylist(), pool.column("text").to_pylist()
    pos = _sample([t for s, t in zip(sources, texts) if s in reference], cfg.max_train_docs, rng)
    neg = _sample([t for s, t in zip(sources, texts) if s not in reference], cfg.max_train_docs, rng)
    if not reference or min(len(pos), len(neg)) < cfg.min_train_docs:
        why = ("no source has reference: true" if not reference else
               f"too few documents to train on ({len(pos)} positives, {len(neg)} negatives; "
               f"need {cfg.min_train_docs} of each)")
        _say(f"WARNING: {why}; every document scores 0.5 and lands in bucket 0")
        clf = QualityClassifier.constant(cfg, why)
    else:
        clf = QualityClassifier(cfg, seed=config.seed).fit(pos + neg, [1] * len(pos) + [0] * len(neg))
        aucs = ", ".join(f"{k} {v:.3f}" for k, v in clf.meta["auc"].items())
        _say(f"classifier ({cfg.model}): {len(pos)} positives from {', '.join(sorted(reference))}, "
             f"{len(neg)} pool negatives; held-out ROC AUC: {aucs}")
    clf.save(folder)
    return clf.meta


def _ensure_models(config: RunConfig, staging: StageStore, units: list[Unit], workdir: Path,
                   retrain: bool) -> dict:
    folder, tok_path = workdir / "classifier", workdir / "tokenizer.json"
    need_clf = retrain or not (folder / "meta.json").exists()
    pool = _pool_texts(staging, units) if need_clf or not tok_path.exists() else None
    if need_clf:
        meta = _train_classifier(config, pool, folder)
    else:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        _say(f"classifier: reusing {folder} ({meta['model']}); --train-classifier retrains it")
    if not tok_path.exists():
        cfg = config.curation.tokenizer
        texts = _sample(pool.column("text").to_pylist(), cfg.sample_docs, np.random.default_rng(config.seed + 1))
        save_tokenizer(train_tokenizer(texts, cfg), tok_path)
        _say(f"tokenizer: byte-level BPE, vocab {cfg.vocab_size}, trained on {len(texts)} documents -> {tok_path}")
    return meta


def _fingerprint(config: RunConfig, workdir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted((workdir / "classifier").glob("*")) + [workdir / "tokenizer.json"]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    cur = config.curation
    h.update(json.dumps([_prefilter_hash(config), config.seed, cur.num_buckets, cur.keep_fractions,
                         cur.bucket_thresholds]).encode())
    return h.hexdigest()[:16]


# --- step 3: thresholds -----------------------------------------------------------------------
def _score_unit(row: dict, *, workdir: str) -> dict:
    table = pq.read_table(row["passed"], columns=["text"])
    scores = Scorer(Path(workdir) / "classifier")(table).column("quality_score").to_pylist()
    return {"unit": row["unit"], "scores": scores}


def _thresholds(config: RunConfig, staging: StageStore, units: list[Unit], workdir: Path, fp: str) -> list[float]:
    cur = config.curation
    if cur.bucket_thresholds is not None:
        return list(cur.bucket_thresholds)
    cache = staging.root / "thresholds.json"
    if cache.exists() and json.loads(cache.read_text())["fingerprint"] == fp:
        return json.loads(cache.read_text())["thresholds"]
    done = staging.done_units()
    rows = [{"unit": u.name, "passed": str(staging.root / done[u.name]["files"]["passed"][0])} for u in units]
    results = ray_map_rows(_score_unit, rows, workdir=str(workdir))
    scores = np.concatenate([np.asarray(r["scores"], dtype=np.float64) for r in results] or [np.zeros(0)])
    thresholds = quantile_thresholds(scores, cur.num_buckets)
    atomic_write_text(cache, json.dumps({"fingerprint": fp, "thresholds": thresholds}))
    _say(f"buckets: {cur.num_buckets} levels by pool score quantiles over {len(scores)} documents: "
         + ", ".join(f"{t:.3f}" for t in thresholds))
    return thresholds


# --- step 4: finalize -------------------------------------------------------------------------
def _finalize_unit(row: dict, *, config: RunConfig, workdir: str, thresholds: list[float]) -> dict:
    root, store = Path(workdir), StageStore(workdir, STAGE)
    staged = {k: pq.read_table(Path(row["staged"][k])) for k in ("passed", "filtered", "quarantine")}
    out = Finalize(config.curation, root / "classifier", root / "tokenizer.json", thresholds, config.seed)(
        staged["passed"])
    filtered = pa.concat_tables([conform(TokenCounter(root / "tokenizer.json")(staged["filtered"])), out["filtered"]])
    tables = {"kept": out["kept"], "filtered": filtered, "quarantine": staged["quarantine"]}
    files = {k: [str(write_parquet(store.shard_path(k, row["unit"]), t))] for k, t in tables.items()}
    return {"unit": row["unit"], "files": files}


def _finalize(config: RunConfig, staging: StageStore, store: StageStore, units: list[Unit], workdir: Path,
              thresholds: list[float], fp: str) -> int:
    done, staged_units = store.done_units(), staging.done_units()
    todo = [u for u in units if done.get(u.name, {}).get("counts", {}).get("fingerprint") != fp]
    _say(f"finalize: {len(todo)} of {len(units)} units to do")
    rows = [{"unit": u.name, "staged": {k: str(staging.root / v[0]) for k, v in staged_units[u.name]["files"].items()}}
            for u in todo]
    results = ray_iter_rows(_finalize_unit, rows, config=config, workdir=str(workdir), thresholds=thresholds)
    _mark_as_they_finish(store, results,
                         lambda r: {"fingerprint": fp, "sources": staged_units[r["unit"]]["counts"]["sources"]})
    return len(todo)


# --- step 5: catalog --------------------------------------------------------------------------
def _quarantine_records(table: pa.Table | None) -> list[dict]:
    counts: dict[tuple, list[int]] = {}
    if table is not None:
        for source, reason, raw in zip(*(table.column(c).to_pylist() for c in ("source", "reason", "raw"))):
            category = reason.split(":")[0]  # "too_large: 12 > 10 bytes" -> "too_large"
            acc = counts.setdefault((source, category), [0, 0])
            acc[0] += 1
            acc[1] += len((raw or "").encode("utf-8", "replace"))
    return [{"source": s, "bucket": None, "outcome": "quarantined", "reason": r, "docs": n, "bytes": b}
            for (s, r), (n, b) in counts.items()]


def _ledger(store: StageStore) -> pa.Table:
    doc_cols = ["source", "bucket", "n_tokens", "n_bytes"]
    records = ledger_from_docs(store.read("kept", columns=doc_cols), "kept")
    records += ledger_from_docs(store.read("filtered", columns=doc_cols + ["reason"]), "filtered", "reason")
    records += _quarantine_records(store.read("quarantine", columns=["source", "reason", "raw"]))
    tokens: dict[str, int] = {}
    for r in records:
        tokens[r["source"]] = tokens.get(r["source"], 0) + int(r.get("tokens", 0))
    for unit in store.done_units().values():
        for source, c in unit["counts"]["sources"].items():
            records.append({"source": source, "outcome": "in", "docs": c["in"], "bytes": c["in_bytes"]})
            records += [{"source": source, "outcome": "pii_masked", "reason": kind, "docs": n}
                        for kind, n in c["pii"].items() if n]
    for r in records:
        if r["outcome"] == "in":
            r["tokens"] = tokens.get(r["source"], 0)
    return ledger_rows(records, STAGE)


def _update_catalog(store: StageStore, workdir: Path) -> dict[str, int]:
    with Catalog(workdir) as catalog:
        catalog.register_stage(store, kinds=KINDS)
        ledger = _ledger(store)
        catalog.replace_ledger(STAGE, ledger)
        catalog.write_table("curate_stats", catalog.query(STATS_SQL))
    totals = {"in": 0, "kept": 0, "filtered": 0, "quarantined": 0}
    for outcome, docs in zip(ledger.column("outcome").to_pylist(), ledger.column("docs").to_pylist()):
        if outcome in totals:
            totals[outcome] += docs
    return totals


# --- the stage --------------------------------------------------------------------------------
def _reset(workdir: Path) -> None:
    """--force: forget shards, staging, classifier and tokenizer."""
    StageStore(workdir, STAGE).reset()
    shutil.rmtree(workdir / "classifier", ignore_errors=True)
    (workdir / "tokenizer.json").unlink(missing_ok=True)


def run_curate(config: RunConfig, *, train_classifier: bool = False, force: bool = False) -> str:
    """Curate every source of ``config``; return a one-line summary.

    A missing file or an empty source raises InputError before any work starts. A re-run skips
    finished units; ``force`` starts over; ``train_classifier`` retrains the classifier (units scored
    with another model are then redone).
    """
    from automixer.runtime import init_ray

    units = plan_units(config.sources, config.curation)
    workdir = ensure_dir(config.workdir_path, "workdir").resolve()
    if force:
        _reset(workdir)
    init_ray(config.ray)
    with stage_run(config, STAGE) as detail:
        store, staging = StageStore(workdir, STAGE), StageStore(workdir, STAGING)
        prefiltered = _prefilter(config, units, staging, workdir)
        meta = _ensure_models(config, staging, units, workdir, retrain=train_classifier)
        fp = _fingerprint(config, workdir)
        thresholds = _thresholds(config, staging, units, workdir, fp)
        finalized = _finalize(config, staging, store, units, workdir, thresholds, fp)
        totals = _update_catalog(store, workdir)
        detail.update(totals, units=len(units), prefiltered=prefiltered, finalized=finalized,
                      classifier=meta["model"], auc=meta.get("auc", {}), thresholds=thresholds)
    auc = ", ".join(f"{k} {v:.3f}" for k, v in meta.get("auc", {}).items()) or "n/a"
    return (f"curate: {totals['in']} documents in, {totals['kept']} kept, {totals['filtered']} filtered, "
            f"{totals['quarantined']} quarantined; {len(units)} units ({finalized} processed this run); "
            f"classifier {meta['model']} (held-out ROC AUC {auc}); shards in {store.root}")
