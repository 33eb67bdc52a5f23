"""Flow of the synth stage: pick seeds by the policy, rewrite them on Ray, write shards and the catalog.

Reads the finished ``kept`` shards of dedup (or of curate when dedup has not run). Writes
<workdir>/synth/{docs,rejected}/<unit>.parquet (DOC_SCHEMA), features/<unit>.parquet for pipeline
strategies, and keeps the openai backend's response cache in <workdir>/synth/cache.sqlite (kept by
--force, so a forced re-run sends nothing already answered). Units are chunks of tasks per policy rule.
"""

from __future__ import annotations

import shutil
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from automixer.catalog import Catalog, ledger_from_docs, ledger_rows
from automixer.config import RunConfig
from automixer.pool import kept_store
from automixer.stage_run import stage_run
from dataplane.errors import AutomixerError, StageError
from dataplane.store import StageStore, write_parquet
from synth.features import FEATURE_SCHEMA, FeatureExtractor, make_bundles
from synth.seeds import seed_tasks, select_seeds, task_units
from synth.stage import STAT_COLUMNS, TASK_SCHEMA, SynthStage, split_outcomes
from synth.strategies import is_pipeline

SEED_COLUMNS = ["doc_id", "source", "domain", "bucket", "quality_score", "text"]
CACHE_NAME = "cache.sqlite"


def _reset_keeping_cache(store: StageStore) -> None:
    if store.root.exists():
        for child in store.root.iterdir():
            if not child.name.startswith(CACHE_NAME):
                shutil.rmtree(child) if child.is_dir() else child.unlink()


def _extract_batch(batch: pa.Table, *, max_chars: int) -> pa.Table:
    return FeatureExtractor(max_chars)(batch)


def _features(config: RunConfig, store: StageStore, seeds: pa.Table, unit: str) -> pa.Table:
    """The feature table of a pipeline rule (extracted on Ray once, then read back from its shard)."""
    path = store.shard_path("features", unit)
    if not store.is_done(unit):
        import ray

        size = config.synth.rows_per_block
        blocks = [seeds.slice(i, size) for i in range(0, seeds.num_rows, size)] or [seeds]
        ds = ray.data.from_arrow(blocks).map_batches(
            _extract_batch, fn_kwargs={"max_chars": config.synth.max_seed_chars},
            batch_format="pyarrow", batch_size=None, compute=ray.data.TaskPoolStrategy(size=config.ray.num_cpus or 2))
        parts = [b for b in ds.iter_batches(batch_format="pyarrow", batch_size=None)]
        table = pa.concat_tables([p.cast(FEATURE_SCHEMA) for p in parts]) if parts else FEATURE_SCHEMA.empty_table()
        write_parquet(path, table.sort_by("feature_id"))
        store.mark_done(unit, {"features": [path]}, {"features": table.num_rows})
    return pads.dataset(str(path)).to_table()


def plan_units(config: RunConfig, store: StageStore, source: StageStore) -> dict[str, list[dict]]:
    """All units of the policy over ``source``'s kept shards: name -> tasks (seed docs, or feature bundles)."""
    print(f"[synth] seeds: {source.stage} kept shards")
    files = [str(p) for p in source.files("kept")]
    dataset = pads.dataset(files)
    meta = dataset.to_table(columns=["doc_id", "source", "bucket"])
    units: dict[str, list[dict]] = {}
    for index, rule in enumerate(config.synth.policy):
        ids = select_seeds(meta, rule, index, config.seed)
        seeds = dataset.to_table(columns=SEED_COLUMNS, filter=pc.field("doc_id").isin(ids))
        seeds = seeds.take(pc.sort_indices(seeds, [("doc_id", "ascending")]))
        if not is_pipeline(rule.strategy):
            units.update(seed_tasks(seeds, rule, index, config.synth.rows_per_block))
            continue
        features = _features(config, store, seeds, f"r{index:02d}-{rule.strategy}-features")
        per = config.synth.docs_per_summary if rule.strategy == "summary" else config.synth.features_per_doc
        bundles = make_bundles(features, rule.strategy, per=per, max_outputs=rule.max_docs, seed=config.seed)
        units.update(task_units(bundles, rule, index, config.synth.rows_per_block))
    return units


def _run_batch(batch: pa.Table, *, synth_config, tokenizer_path, cache_path, seed) -> pa.Table:
    stage = SynthStage(synth_config, tokenizer_path=tokenizer_path, cache_path=cache_path, seed=seed)
    return stage(batch)


def _outcome_batches(config: RunConfig, tasks: list[pa.Table]):
    """Run the stage on Ray Data; yield outcome batches as they finish (any order)."""
    import ray

    workdir = config.workdir_path.resolve()
    tokenizer = workdir / "tokenizer.json"
    kwargs = {"synth_config": config.synth, "tokenizer_path": str(tokenizer) if tokenizer.exists() else None,
              "cache_path": str(workdir / "synth" / CACHE_NAME), "seed": config.seed}
    # One Ray task at a time for the openai backend: its thread pool already bounds requests in flight.
    concurrency = 1 if config.synth.backend == "openai" else (config.ray.num_cpus or 2)
    ds = ray.data.from_arrow(tasks).map_batches(_run_batch, fn_kwargs=kwargs, batch_format="pyarrow", batch_size=None,
                                                compute=ray.data.TaskPoolStrategy(size=concurrency))
    try:
        yield from ds.iter_batches(batch_format="pyarrow", batch_size=None)
    except Exception as exc:  # unwrap a project error raised inside a Ray worker
        cause = exc
        while cause is not None and not isinstance(cause, AutomixerError):
            cause = getattr(cause, "cause", None) or cause.__cause__
        if cause is None:
            raise
        raise StageError(f"synth.backend {config.synth.backend}: {cause}") from None


def run_units(config: RunConfig, store: StageStore, pending: dict[str, list[dict]]) -> dict[str, int]:
    """Rewrite the pending units; write each unit's shards as soon as all its tasks are back."""
    totals = defaultdict(int)
    if not pending:
        return totals
    unit_of = {t["task_id"]: u for u, ts in pending.items() for t in ts}
    parts: dict[str, list[pa.Table]] = defaultdict(list)
    blocks = [pa.Table.from_pylist(ts, schema=TASK_SCHEMA) for ts in pending.values()]
    for batch in _outcome_batches(config, blocks):
        for unit in set(unit_of[t] for t in batch.column("task_id").to_pylist()):
            mask = pc.is_in(batch.column("task_id"), pa.array([t["task_id"] for t in pending[unit]]))
            parts[unit].append(batch.filter(mask))
            if sum(p.num_rows for p in parts[unit]) == len(pending[unit]):
                counts = _write_unit(store, unit, pa.concat_tables(parts.pop(unit)))
                for key, value in counts.items():
                    totals[key] += value
    return totals


def _write_unit(store: StageStore, unit: str, outcomes: pa.Table) -> dict[str, int]:
    kinds = split_outcomes(outcomes)
    files = {kind: [write_parquet(store.shard_path(kind, unit), table)] for kind, table in kinds.items()}
    counts = {"docs": kinds["docs"].num_rows, "rejected": kinds["rejected"].num_rows}
    counts.update({c: int(pc.sum(outcomes.column(c).cast(pa.int64())).as_py() or 0) for c in STAT_COLUMNS})
    store.mark_done(unit, files, counts)
    print(f"[synth] {unit}: {counts['docs']} docs, {counts['rejected']} rejected")
    return counts


def tokens_table(docs: pa.Table | None) -> pa.Table:
    """Synthetic docs and tokens per strategy, source and backend, with each row's share of tokens."""
    schema = pa.schema([("strategy", pa.string()), ("source", pa.string()), ("backend", pa.string()),
                        ("docs", pa.int64()), ("tokens", pa.int64()), ("token_share", pa.float64())])
    if docs is None or docs.num_rows == 0:
        return schema.empty_table()
    grouped = docs.group_by(["synth_strategy", "source", "synth_backend"]).aggregate(
        [("n_tokens", "count"), ("n_tokens", "sum")]
    )
    grouped = grouped.sort_by([("synth_strategy", "ascending"), ("source", "ascending")])
    total = max(1, pc.sum(grouped.column("n_tokens_sum")).as_py())
    return pa.table(
        [
            grouped.column("synth_strategy"),
            grouped.column("source"),
            grouped.column("synth_backend"),
            grouped.column("n_tokens_count").cast(pa.int64()),
            grouped.column("n_tokens_sum").cast(pa.int64()),
            pc.divide(grouped.column("n_tokens_sum").cast(pa.float64()), float(total)),
        ],
        schema=schema,
    )


def _update_catalog(config: RunConfig, store: StageStore) -> tuple[pa.Table | None, pa.Table | None]:
    docs, rejected = store.read("docs"), store.read("rejected")
    records = ledger_from_docs(docs, "synthetic") + ledger_from_docs(rejected, "rejected", "reason")
    with Catalog(config.workdir_path) as catalog:
        catalog.replace_ledger("synth", ledger_rows(records, "synth"))
        catalog.register_stage(store)
        catalog.write_table("synth_tokens", tokens_table(docs))
    return docs, rejected


def _summary(config: RunConfig, docs, rejected, totals: dict, skipped: int) -> str:
    n_docs = docs.num_rows if docs is not None else 0
    n_tokens = pc.sum(docs.column("n_tokens")).as_py() if n_docs else 0
    reasons = rejected.group_by("reason").aggregate([("reason", "count")]).to_pylist() if rejected is not None else []
    why = ", ".join(f"{r['reason']}: {r['reason_count']}" for r in sorted(reasons, key=lambda r: -r["reason_count"]))
    text = (
        f"synth ({config.synth.backend}): {n_docs} synthetic docs, {n_tokens:,} tokens; "
        f"{sum(r['reason_count'] for r in reasons)} rejected{f' ({why})' if why else ''}; "
        f"{skipped} units already done"
    )
    if config.synth.backend == "openai":
        text += (
            f"; {totals.get('requests', 0)} requests, {totals.get('retries', 0)} retries, "
            f"{totals.get('cache_hit', 0)} cache hits"
        )
    return text + f"; shards in {config.workdir_path / 'synth'}"


def run_synth(config: RunConfig, *, force: bool = False) -> str:
    """Write synthetic documents from the selected seeds; return a one-line summary."""
    if not config.synth.enabled:
        return "synth: disabled (synth.enabled is false); nothing written"
    store = StageStore(config.workdir_path, "synth")
    source = kept_store(config.workdir_path, "synth")  # fails early, before any bookkeeping
    if force:
        _reset_keeping_cache(store)
    with stage_run(config, "synth") as detail:
        units = plan_units(config, store, source)
        done = store.done_units()
        pending = {u: ts for u, ts in units.items() if u not in done}
        print(f"[synth] {len(units)} units ({sum(map(len, units.values()))} tasks), {len(units) - len(pending)} done")
        totals = run_units(config, store, pending)
        docs, rejected = _update_catalog(config, store)
        detail.update({k: int(v) for k, v in totals.items()})
        return _summary(config, docs, rejected, totals, len(units) - len(pending))
