"""Dedup flow: curate's kept shards -> dedup kept / duplicates shards, ledger, removal report and plot.

Resumable steps (units in <workdir>/dedup/_manifest.json):
1-2. ``clusters``: the cluster chain of dedup/chain.py (signatures, band groups, verification,
   connected components, keepers), every step as Ray tasks over Parquet shards under dedup/chain/;
   the driver holds counts and folder names only (docs/DEDUP.md).
3. ``filter:<shard>``: each curate shard split into dedup/kept and dedup/duplicates.
4. ledger, views, dedup_report table, <workdir>/plots/dedup_removal.png (cheap; redone every run).

A row's gid is its position in the concatenation of curate's kept shards (in ``files("kept")``
order). The ``_plan`` unit holds a fingerprint of the inputs and dedup config; when either changes,
earlier dedup outputs are discarded, because a global dedup cannot be patched shard by shard.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from automixer.catalog import Catalog, ledger_from_docs, ledger_rows
from automixer.config import RunConfig
from automixer.runtime import ray_map_rows, ray_tasks
from automixer.stage_run import stage_run
from automixer.typed_yaml import to_plain
from dataplane.errors import ConfigError, InputError, StageError
from dataplane.schema import conform
from dataplane.store import StageStore, ensure_dir, write_parquet
from dedup.chain import run_chain, shard_clusters
from dedup.config import DedupConfig
from dedup.filter import FilterStage
from dedup.local import dedup_file
from dedup.report import format_report, plot_removal, removal_report

STAGE = "dedup"
KINDS = ("kept", "duplicates")
PLOT = "plots/dedup_removal.png"


@dataclass(frozen=True)
class Shard:
    """One curate kept shard: its unit name, path and first gid."""

    name: str
    path: str
    offset: int
    rows: int


def _say(message: str) -> None:
    print(f"[dedup] {message}", flush=True)


def _plan(inputs: list[Path], config: DedupConfig) -> tuple[list[Shard], str]:
    """Shards with their gid offsets, and a fingerprint of inputs + dedup config."""
    shards, offset, ident = [], 0, []
    for path in inputs:
        rows = pq.ParquetFile(path).metadata.num_rows
        shards.append(Shard(path.stem, str(path), offset, rows))
        offset += rows
        stat = path.stat()
        ident.append([str(path), stat.st_size, stat.st_mtime_ns])
    blob = json.dumps({"inputs": ident, "dedup": to_plain(config)}, sort_keys=True).encode()
    return shards, hashlib.sha256(blob).hexdigest()[:16]


def _check_plan(store: StageStore, fingerprint: str) -> None:
    """Discard outputs made from other inputs or another config; record this plan."""
    done = store.done_units()
    if done.get("_plan", {}).get("counts", {}).get("fingerprint") == fingerprint:
        return
    if done:
        _say("curate outputs or dedup config changed since the last run: starting over")
        store.reset()
    store.mark_done("_plan", {}, {"fingerprint": fingerprint})


def _read_shard(row: dict, columns: list[str] | None) -> pa.Table:
    table = pq.read_table(row["path"], columns=columns)
    gid = np.arange(row["offset"], row["offset"] + table.num_rows, dtype=np.int64)
    return table.append_column("gid", pa.array(gid))


# --- steps 1 and 2: the cluster chain (dedup/chain.py) as Ray tasks (automixer.runtime.ray_tasks) ----------
def _clusters(store: StageStore, shards: list[Shard], config: DedupConfig) -> tuple[Path, int]:
    """Run the chain unless done; return its folder and the number of shards signed."""
    root = store.root / "chain"
    if store.is_done("clusters"):
        return root, 0
    _say(f"clusters: {len(shards)} shard(s), {sum(s.rows for s in shards)} documents")
    counts = run_chain([{"path": s.path, "offset": s.offset, "rows": s.rows} for s in shards], root, config, ray_tasks)
    _say(f"clusters: {counts['exact_edges']} exact pairs, {counts['candidates']} LSH candidate pairs, "
         f"{counts['near_edges']} near pairs joined, {counts['large_groups']} large band group(s); "
         f"{counts['clustered']} documents in clusters ({counts['component_rounds']} component rounds, "
         f"{counts['partitions']} partition(s))")
    store.mark_done("clusters", {"clusters": sorted((root / "clusters").rglob("*.parquet"))},
                    {k: v for k, v in counts.items() if isinstance(v, int)})
    return root, len(shards)


# --- step 3: filter -----------------------------------------------------------------------------
def _filter_shard(row: dict, *, config: DedupConfig, clusters: str) -> dict:
    assigned = shard_clusters(clusters, row["index"]) if clusters else None
    parts = FilterStage(config, assigned)(_read_shard(row, None))
    for kind in KINDS:
        write_parquet(Path(row[kind]), conform(parts[kind]))
    counts = {kind: parts[kind].num_rows for kind in KINDS}
    return {"unit": f"filter:{row['name']}", "files": {k: [row[k]] for k in KINDS}, "counts": counts}


def _filter(store: StageStore, shards: list[Shard], config: DedupConfig, clusters: Path | None) -> int:
    todo = [s for s in shards if not store.is_done(f"filter:{s.name}")]
    if todo:
        _say(f"filter: {len(todo)} shard(s)")
        index = {s.name: i for i, s in enumerate(shards)}
        rows = [{**s.__dict__, "index": index[s.name], **{k: str(store.shard_path(k, s.name)) for k in KINDS}}
                for s in todo]
        results = ray_map_rows(_filter_shard, rows, config=config, clusters=str(clusters) if clusters else "")
        store.mark_many_done({r["unit"]: (r["files"], r["counts"]) for r in results})
    return len(todo)


# --- step 4: ledger, catalog, report ------------------------------------------------------------
def _ledger(store: StageStore) -> pa.Table:
    cols = ["source", "bucket", "n_tokens", "n_bytes", "reason"]
    kept, dups = store.read("kept", cols), store.read("duplicates", cols)
    records = ledger_from_docs(kept, "in") + ledger_from_docs(dups, "in")
    records += ledger_from_docs(kept, "kept") + ledger_from_docs(dups, "duplicate", "reason")
    return ledger_rows(records, STAGE)


def _account(config: RunConfig, store: StageStore) -> pa.Table:
    ledger = _ledger(store)
    report = removal_report(ledger)
    with Catalog(config.workdir_path) as catalog:
        catalog.register_stage(store, kinds=KINDS)
        catalog.replace_ledger(STAGE, ledger)
        catalog.write_table("dedup_report", report)
    plot_removal(report, config.workdir_path / PLOT, f"dedup removal rate (scope: {config.dedup.scope})")
    print(format_report(report), flush=True)
    return report


def run_dedup(config: RunConfig, *, force: bool = False) -> str:
    """Deduplicate curate's kept shards of ``config.workdir``; return a one-line summary.

    Raises StageError when curate has not run. A re-run with the same inputs and config does no
    work; ``force`` starts over.
    """
    from automixer.runtime import init_ray

    workdir = config.workdir_path
    inputs = StageStore(workdir, "curate").files("kept")
    if not inputs:
        raise StageError(f"dedup reads curate's kept shards, but {workdir / 'curate'} has none: "
                         "run `automixer curate CONFIG` first")
    with stage_run(config, STAGE) as detail:
        store = StageStore(workdir, STAGE)
        if force:
            store.reset()
        shards, fingerprint = _plan(inputs, config.dedup)
        _check_plan(store, fingerprint)
        init_ray(config.ray)
        signed = clustered = 0
        clusters = None
        if config.dedup.enabled and any(s.rows for s in shards):
            clustered = int(not store.is_done("clusters"))
            clusters, signed = _clusters(store, shards, config.dedup)
        filtered = _filter(store, shards, config.dedup, clusters)
        report = _account(config, store)
        totals = {k: int(sum(report.column(k).to_pylist())) for k in ("docs_in", "kept", "exact", "near")}
        detail.update(totals, shards=len(shards), signed=signed, clustered=clustered, filtered=filtered)
    removed = totals["exact"] + totals["near"]
    rate = removed / totals["docs_in"] if totals["docs_in"] else 0.0
    work = "up to date, nothing redone" if not (signed or clustered or filtered) else f"{filtered} shard(s) written"
    return (f"dedup ({config.dedup.scope}): {totals['docs_in']} documents in, {totals['kept']} kept, "
            f"{totals['exact']} exact + {totals['near']} near duplicates removed ({rate:.1%}); {work}; "
            f"shards in {store.root}; plot {workdir / PLOT}")


# --- bare file ----------------------------------------------------------------------------------
def run_dedup_file(input_path: str | Path, output_dir: str | Path, dedup_config: DedupConfig) -> str:
    """Deduplicate a bare JSONL or Parquet file with ``id`` and ``text`` (no workdir, no Ray).

    Runs the same chain in this process (dedup/local.py). Writes <output_dir>/dedup.parquet: one row per
    input document with doc_id, id, text, quality_score, dup_cluster (the keeper's doc_id; its own for
    a keeper), dup_kept and reason (exact / near).
    """
    try:
        dedup_config.validate()
    except ValueError as exc:
        raise ConfigError(f"dedup options: {exc}") from None
    _check_bare_input(Path(input_path))
    ensure_dir(output_dir, "dedup --output")
    counts = dedup_file(Path(input_path), Path(output_dir), dedup_config)
    return (f"dedup: {counts['documents']} documents, {counts['kept']} kept, {counts['exact']} exact + "
            f"{counts['near']} near duplicates (threshold {dedup_config.threshold}, "
            f"{dedup_config.num_perm} permutations, {dedup_config.ngram}-gram {dedup_config.shingle} shingles) "
            f"-> {counts['path']}")


def _check_bare_input(path: Path) -> None:
    """InputError naming ``path`` when it is missing, a folder, or a Parquet file Arrow cannot open."""
    if not path.exists():
        raise InputError(f"{path}: input file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; --input takes one JSONL or Parquet file")
    if path.suffix == ".parquet":
        try:
            pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
