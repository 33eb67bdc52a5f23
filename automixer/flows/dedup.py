"""Dedup flow: curate's kept shards -> dedup kept / duplicates shards, ledger, removal report and plot.

Four resumable steps, each writing files the next reads (units in <workdir>/dedup/_manifest.json):
1. ``signatures:<shard>``: per curate shard, exact key, scope key and MinHash signature of each row
   (Ray Data map_batches, one shard per task) -> dedup/signatures/<shard>.parquet.
2. ``clusters``: in the same Ray pipeline, band keys sorted by key across the whole data set (a
   shuffle), grouped per sorted block, regrouped in the driver; candidate pairs verified, exact and
   near pairs joined by union-find, keepers chosen -> dedup/clusters/clusters.parquet (clustered rows).
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
from dataplane.errors import ConfigError, InputError, StageError
from dataplane.jsonl import iter_jsonl
from automixer.runtime import ray_map_rows
from dataplane.schema import conform
from automixer.stage_run import stage_run
from dataplane.store import StageStore, write_parquet
from automixer.typed_yaml import to_plain
from dedup.buckets import KEY_SCHEMA, BandGroupStage, BandKeyStage, candidate_pairs
from dedup.clusters import assign_clusters, exact_pairs, verify_pairs
from dedup.config import DedupConfig
from dedup.filter import FilterStage
from dedup.report import format_report, plot_removal, removal_report
from dedup.signatures import SignatureStage, signature_matrix

STAGE = "dedup"
KINDS = ("kept", "duplicates")
PLOT = "plots/dedup_removal.png"
_SIG_INPUT = ["text", "source", "bucket"]
_SIG_KEY_COLUMNS = ["gid", "scope", "n_shingles", "sig"]


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


# --- steps 1 and 2: signatures, band keys grouped over the data set ------------------------------
def _shard_keys(row: dict, config: DedupConfig) -> pa.Table:
    """Band-key rows of one shard; its signatures are computed and written first unless done."""
    if row["signed"]:
        sigs = pq.read_table(row["out"], columns=_SIG_KEY_COLUMNS)
    else:
        sigs = SignatureStage(config)(_read_shard(row, _SIG_INPUT))
        write_parquet(Path(row["out"]), sigs)
    return BandKeyStage(config)(sigs)


def _key_boundaries(num_keys: int, keys_per_partition: int = 1 << 21) -> list[int]:
    """Evenly spaced int64 boundaries giving about ``keys_per_partition`` keys per sort partition."""
    parts = max(1, -(-num_keys // keys_per_partition))
    return [int(v) for v in np.linspace(-(2**63), 2**63 - 1, parts + 1, dtype=np.float64)[1:-1]]


def _band_members(store: StageStore, shards: list[Shard], config: DedupConfig) -> tuple[pa.Table, int]:
    """Rows (key, gid) of band keys shared by two or more documents, and the number of shards signed.

    One Ray Data pipeline: per shard (one task each) signatures -> band keys, then a sort by key
    across the whole data set, then BandGroupStage on each sorted block.
    """
    import ray

    rows = [{**s.__dict__, "out": str(store.shard_path("signatures", s.name)),
             "signed": store.is_done(f"signatures:{s.name}")} for s in shards]
    todo = [r for r in rows if not r["signed"]]
    if todo:
        _say(f"signatures: {len(todo)} shard(s), {sum(r['rows'] for r in todo)} documents")

    def keys_of_shards(batch: pa.Table) -> pa.Table:
        return pa.concat_tables([_shard_keys(json.loads(r), config) for r in batch.column("row").to_pylist()])

    ds = ray.data.from_items([{"row": json.dumps(r)} for r in rows], override_num_blocks=len(rows))
    ds = ds.map_batches(keys_of_shards, batch_size=1, batch_format="pyarrow")
    # Keys are uniform 64-bit hashes, so evenly spaced boundaries balance the sort without sampling.
    # After the sort every block holds whole key ranges; a key cut between two blocks shows up as a
    # boundary group of both, and group_members in candidate_pairs joins the pieces.
    num_keys = sum(s.rows for s in shards) * config.bands_rows[0]
    ds = ds.sort("key", boundaries=_key_boundaries(num_keys))
    ds = ds.map_batches(lambda b: BandGroupStage(config)(b), batch_size=None, batch_format="pyarrow")
    tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    store.mark_many_done({f"signatures:{r['name']}": ({"signatures": [r["out"]]}, {"rows": r["rows"]}) for r in todo})
    return (pa.concat_tables(tables) if tables else KEY_SCHEMA.empty_table()), len(todo)


def _signature_lookup(sig_files: list[Path], needed: np.ndarray):
    """A function gids -> signature rows, holding only the signatures of ``needed`` documents."""
    gids, rows = [], []
    for path in sig_files:
        table = pq.read_table(path, columns=["gid", "sig"])
        hit = np.isin(table.column("gid").to_numpy(), needed)
        if hit.any():
            part = table.filter(pa.array(hit))
            gids.append(part.column("gid").to_numpy())
            rows.append(signature_matrix(part))
    gid = np.concatenate(gids) if gids else np.zeros(0, np.int64)
    sig = np.concatenate(rows) if rows else np.zeros((0, 1), np.uint32)
    order = np.argsort(gid)
    return lambda g: sig[order[np.searchsorted(gid[order], g)]]


def _meta(store: StageStore, shards: list[Shard]) -> pa.Table:
    """gid, doc_id, quality_score, scope, exact of every document (no text)."""
    parts = []
    for s in shards:
        docs = _read_shard(s.__dict__, ["doc_id", "quality_score"])
        sigs = pq.read_table(store.shard_path("signatures", s.name), columns=["scope", "exact"])
        parts.append(docs.append_column("scope", sigs.column("scope")).append_column("exact", sigs.column("exact")))
    return pa.concat_tables(parts)


def _clusters(store: StageStore, shards: list[Shard], config: DedupConfig) -> tuple[Path, int]:
    """Write the clusters file unless done; return its path and the number of shards signed."""
    path = store.shard_path("clusters", "clusters")
    if store.is_done("clusters"):
        return path, 0
    members, signed = _band_members(store, shards, config)
    meta = _meta(store, shards)
    gid, scope, exact = (meta.column(c).to_numpy() for c in ("gid", "scope", "exact"))
    exact_edges = exact_pairs(gid, scope, exact)
    sig_files = [store.shard_path("signatures", s.name) for s in shards]
    pairs = candidate_pairs(members.column("key").to_numpy(), members.column("gid").to_numpy(), config.verify_group_limit)
    candidates = len(pairs)
    if config.verify and len(pairs):
        pairs = verify_pairs(pairs, _signature_lookup(sig_files, np.unique(pairs)), config.threshold)
    clusters = assign_clusters(meta, exact_edges, pairs)
    _say(f"clusters: {len(exact_edges)} exact pairs, {candidates} LSH candidate pairs, {len(pairs)} joined; "
         f"{clusters.num_rows} documents in clusters")
    write_parquet(path, clusters)
    store.mark_done("clusters", {"clusters": [path]}, {"rows": clusters.num_rows})
    return path, signed


# --- step 3: filter -----------------------------------------------------------------------------
def _filter_shard(row: dict, *, config: DedupConfig, clusters: str) -> dict:
    lo, hi = row["offset"], row["offset"] + row["rows"]
    assigned = pq.read_table(clusters, filters=[("gid", ">=", lo), ("gid", "<", hi)]) if clusters else None
    parts = FilterStage(config, assigned)(_read_shard(row, None))
    for kind in KINDS:
        write_parquet(Path(row[kind]), conform(parts[kind]))
    counts = {kind: parts[kind].num_rows for kind in KINDS}
    return {"unit": f"filter:{row['name']}", "files": {k: [row[k]] for k in KINDS}, "counts": counts}


def _filter(store: StageStore, shards: list[Shard], config: DedupConfig, clusters: Path | None) -> int:
    todo = [s for s in shards if not store.is_done(f"filter:{s.name}")]
    if todo:
        _say(f"filter: {len(todo)} shard(s)")
        rows = [{**s.__dict__, **{k: str(store.shard_path(k, s.name)) for k in KINDS}} for s in todo]
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
def _read_bare(path: Path) -> pa.Table:
    """id and text (and quality_score when present) of a JSONL (.jsonl, .jsonl.gz) or Parquet file."""
    if not path.exists():
        raise InputError(f"{path}: input file not found")
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        missing = [c for c in ("id", "text") if c not in table.column_names]
        if missing:
            raise InputError(f"{path}: missing column {missing[0]!r}; columns are {table.column_names}")
        rows = table.select([c for c in ("id", "text", "quality_score") if c in table.column_names]).to_pylist()
    else:
        rows = []
        for line_no, obj in iter_jsonl(path):
            if not isinstance(obj, dict) or "id" not in obj or not isinstance(obj.get("text"), str):
                raise InputError(f"{path}:{line_no}: expected an object with 'id' and a string 'text'")
            rows.append({"id": obj["id"], "text": obj["text"], "quality_score": obj.get("quality_score")})
    quality = [r.get("quality_score") for r in rows]
    return pa.table({
        "id": pa.array([None if r["id"] is None else str(r["id"]) for r in rows], pa.string()),
        "text": pa.array([r["text"] or "" for r in rows], pa.string()),
        "quality_score": pa.array([q if isinstance(q, (int, float)) else None for q in quality], pa.float64()),
    })


def run_dedup_file(input_path: str | Path, output_dir: str | Path, dedup_config: DedupConfig) -> str:
    """Deduplicate a bare JSONL or Parquet file with ``id`` and ``text`` (no workdir, no Ray).

    Writes <output_dir>/dedup.parquet: one row per input document with doc_id, id, text, quality_score,
    dup_cluster (the keeper's doc_id; its own for a keeper), dup_kept and reason (exact / near).
    """
    from dedup.local import dedup_table

    try:
        dedup_config.validate()
    except ValueError as exc:
        raise ConfigError(f"dedup options: {exc}") from None
    path = Path(input_path)
    out = dedup_table(_read_bare(path), dedup_config)
    columns = ["doc_id", "id", "text", "quality_score", "dup_cluster", "dup_kept", "reason"]
    target = write_parquet(Path(output_dir) / "dedup.parquet", out.select(columns))
    kept = int(np.count_nonzero(out.column("dup_kept").to_numpy(zero_copy_only=False)))
    reasons = out.column("reason").to_pylist()
    return (f"dedup: {out.num_rows} documents, {kept} kept, {reasons.count('exact')} exact + "
            f"{reasons.count('near')} near duplicates (threshold {dedup_config.threshold}, "
            f"{dedup_config.num_perm} permutations, {dedup_config.ngram}-gram {dedup_config.shingle} shingles) -> {target}")
