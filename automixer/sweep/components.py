"""Mixing components: the final document pool cut into named groups, each tokenized into one packed file.

The pool is ``dedup`` kept (or ``curate`` kept when dedup did not run) plus ``synth`` docs. A
document's default component is ``dataplane.schema.component_name`` (``source.q<bucket>`` or
``synth.<strategy>``), or its source alone with ``components.by: source``; ``components.groups``
renames or merges default components (glob patterns). Each component becomes the folder
``<workdir>/components/<name>/`` of packed token arrays, ``<NNNNN>.npy`` per pool shard: its documents'
token ids, each followed by an end-of-text id (proxies.data reads the folder by memory map). One task
per pool shard tokenises it (on Ray when it runs), so the driver never holds the pool's texts;
``_doc_ids/<NNNNN>.npy`` holds each shard's sorted doc_id hashes for the eval overlap check.

Written (the contract with optimize, see docs/ARCHITECTURE.md): ``components/components.json`` and
catalog table ``components`` with component, docs, tokens, synthetic, natural_weight, token_file,
shards (path + the SQL filter selecting the component's rows in it). ``components/_meta.json``
holds the tokenizer facts (eos id, vocab size) and a fingerprint of the inputs, so an unchanged
pool is not tokenized twice.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from automixer.catalog import Catalog
from automixer.pool import kept_store
from automixer.runtime import ray_tasks
from dataplane.errors import StageError
from dataplane.schema import component_name
from dataplane.store import StageStore, atomic_path, atomic_write_text
from dedup.chain import MapTasks, in_process

_EOS_CANDIDATES = ("<|endoftext|>", "<eos>", "</s>", "<|eos|>", "[EOS]", "<eot>")
_POOL_COLUMNS = ["doc_id", "source", "bucket", "synthetic", "synth_strategy", "text"]


@dataclass(frozen=True)
class TokenizerInfo:
    path: str
    eos_id: int
    """End-of-text id: the tokenizer's own special token, or vocab size (one id past the vocab)."""
    vocab_size: int
    """Embedding rows the proxy needs (includes an added eos id)."""


def load_tokenizer(config):
    """(tokenizers.Tokenizer, TokenizerInfo) from sweep.tokenizer or <workdir>/tokenizer.json."""
    from tokenizers import Tokenizer

    path = Path(config.sweep.tokenizer or config.workdir_path / "tokenizer.json")
    if not path.exists():
        raise StageError(f"{path}: tokenizer not found; run `automixer curate CONFIG` first (it trains it)")
    tok = Tokenizer.from_file(str(path))
    n = tok.get_vocab_size(with_added_tokens=True)
    eos = next((i for c in _EOS_CANDIDATES if (i := tok.token_to_id(c)) is not None), None)
    info = TokenizerInfo(str(path), eos if eos is not None else n, n if eos is not None else n + 1)
    return tok, info


def pool_shards(workdir: Path) -> list[Path]:
    """Shards of the final pool: dedup kept (or curate kept) plus synth docs."""
    return kept_store(workdir, "sweep").files("kept") + StageStore(workdir, "synth").files("docs")


def default_component(by: str, source: str, bucket, synthetic: bool, strategy) -> str:
    if synthetic or strategy:
        return component_name(source, bucket, strategy or "unknown")
    return source if by == "source" else component_name(source, bucket)


def group_of(name: str, groups: dict[str, tuple[str, ...]]) -> str:
    """The configured group whose pattern matches ``name`` first, or ``name`` itself."""
    for new_name, patterns in groups.items():
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return new_name
    return name


def _sql_str(v) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def default_filter(by: str, source: str, bucket, synthetic: bool, strategy) -> str:
    """SQL filter selecting one default component's rows in a shard."""
    if synthetic or strategy:
        return f"synthetic AND synth_strategy = {_sql_str(strategy)}" if strategy else "synthetic"
    if by == "source":
        return f"source = {_sql_str(source)} AND NOT synthetic"
    bucket_sql = "bucket IS NULL" if bucket is None else f"bucket = {int(bucket)}"
    return f"source = {_sql_str(source)} AND {bucket_sql} AND NOT synthetic"


def _fingerprint(config, shards: list[Path], tokenizer_path: str) -> str:
    h = hashlib.sha256(b"components v2: folders per component, _doc_ids\n")  # rebuilds older layouts
    for p in shards:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    h.update(Path(tokenizer_path).read_bytes())
    h.update(json.dumps([config.components.by, sorted(config.components.groups.items())]).encode())
    return h.hexdigest()[:16]


def _id_hash(doc_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "little")


def tokenize_shard(*, shard: str, index: int, out: str, tokenizer: str, eos_id: int, dtype: str, by: str,
                   groups: dict) -> dict:
    """One task: tokenise one pool shard, batch by batch, into ``<out>/<component>/<index>.npy`` per component
    it holds, and its documents' sorted doc_id hashes into ``<out>/_doc_ids/<index>.npy``; return the counts."""
    tok = _cached_tokenizer(tokenizer)
    parts: dict[str, list[np.ndarray]] = {}
    comps: dict[str, dict] = {}
    hashes = []
    for batch in pq.ParquetFile(shard).iter_batches(batch_size=2048, columns=_POOL_COLUMNS):
        cols = {c: batch.column(c).to_pylist() for c in _POOL_COLUMNS}
        hashes.extend(_id_hash(d) for d in cols["doc_id"])
        texts_of: dict[str, list[str]] = {}
        for i, text in enumerate(cols["text"]):
            key = (by, cols["source"][i], cols["bucket"][i], bool(cols["synthetic"][i]), cols["synth_strategy"][i])
            name = group_of(default_component(*key), groups)
            comp = comps.setdefault(name, {"docs": 0, "tokens": 0, "synthetic": key[3], "filters": set()})
            comp["docs"] += 1
            comp["synthetic"] = comp["synthetic"] and key[3]
            comp["filters"].add(default_filter(*key))
            texts_of.setdefault(name, []).append(text)
        for name, texts in texts_of.items():
            ids = [e.ids + [eos_id] for e in tok.encode_batch(texts, add_special_tokens=False)]
            count = sum(map(len, ids))
            parts.setdefault(name, []).append(np.fromiter(itertools.chain.from_iterable(ids), dtype, count))
    for name, arrays in parts.items():
        tokens = np.concatenate(arrays)
        comps[name]["tokens"] = int(len(tokens))
        _save(Path(out) / name / f"{index:05d}.npy", tokens)
    if hashes:
        _save(Path(out) / "_doc_ids" / f"{index:05d}.npy", np.sort(np.array(hashes, dtype=np.uint64)))
    return {"docs": len(hashes), "components": {n: {**c, "filters": sorted(c["filters"])} for n, c in comps.items()}}


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


@functools.lru_cache(maxsize=2)
def _cached_tokenizer(path: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


class PoolDocIds:
    """The training pool's doc_ids as sorted 64-bit hashes, one memory-mapped array per shard (never all in
    memory): ``doc_id in ids`` and ``some_ids & ids`` (the eval overlap check)."""

    def __init__(self, folder: Path):
        self.arrays = [np.load(f, mmap_mode="r") for f in sorted(Path(folder).glob("*.npy"))]

    def __contains__(self, doc_id: str) -> bool:
        h = np.uint64(_id_hash(doc_id))
        return any(a[i] == h for a in self.arrays if (i := int(np.searchsorted(a, h))) < len(a))

    def __rand__(self, ids) -> set[str]:
        return {d for d in ids if d in self}

    __and__ = __rand__


def _merge(shards: list[Path], results: list[dict]) -> dict[str, dict]:
    """component -> {docs, tokens, synthetic, shards: [{path, filter}]} from the tasks' counts."""
    comps: dict[str, dict] = {}
    for path, result in zip(shards, results):
        for name, c in result["components"].items():
            comp = comps.setdefault(name, {"docs": 0, "tokens": 0, "synthetic": True, "shards": []})
            comp["docs"] += c["docs"]
            comp["tokens"] += c["tokens"]
            comp["synthetic"] = comp["synthetic"] and c["synthetic"]
            fs = c["filters"]
            comp["shards"].append({"path": str(path.resolve()),
                                   "filter": " OR ".join(f"({f})" for f in fs) if len(fs) > 1 else fs[0]})
    return comps


def build_components(config, map_tasks: MapTasks | None = None) -> tuple[list[dict], TokenizerInfo, PoolDocIds]:
    """Tokenize every component (unless unchanged since the last build), one task per pool shard; return the
    rows, the tokenizer facts and the doc_ids of all training documents (for the eval overlap check).

    ``map_tasks`` runs the tasks; by default on Ray when it is running (``automixer.runtime.ray_tasks``),
    else in this process."""
    workdir = config.workdir_path
    out = workdir / "components"
    shards = pool_shards(workdir)
    tok, info = load_tokenizer(config)
    fingerprint = _fingerprint(config, shards, info.path)
    meta_path = out / "_meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text())["fingerprint"] == fingerprint:
        rows = json.loads((out / "components.json").read_text())
        return rows, info, PoolDocIds(out / "_doc_ids")
    if out.exists():
        shutil.rmtree(out)  # token files of another pool
    dtype = "uint16" if info.vocab_size <= 65536 else "uint32"
    calls = [{"shard": str(p), "index": i, "out": str(out), "tokenizer": info.path, "eos_id": info.eos_id,
              "dtype": dtype, "by": config.components.by, "groups": dict(config.components.groups)}
             for i, p in enumerate(shards)]
    comps = _merge(shards, (map_tasks or _default_map_tasks())(tokenize_shard, calls))
    rows = [{"component": name, "docs": c["docs"], "tokens": c["tokens"], "synthetic": c["synthetic"],
             "natural_weight": 0.0, "token_file": str((out / name).resolve()), "shards": c["shards"]}
            for name, c in sorted(comps.items())]
    total = sum(r["tokens"] for r in rows) or 1
    for r in rows:
        r["natural_weight"] = r["tokens"] / total
    atomic_write_text(out / "components.json", json.dumps(rows, indent=1))
    atomic_write_text(meta_path, json.dumps({"fingerprint": fingerprint, **info.__dict__}, indent=1))
    with Catalog(workdir) as catalog:
        catalog.write_table("components", components_table(rows))
    return rows, info, PoolDocIds(out / "_doc_ids")


def _default_map_tasks() -> MapTasks:
    import ray

    return ray_tasks if ray.is_initialized() else in_process


def components_table(rows: list[dict]) -> pa.Table:
    """The catalog ``components`` table (one row per component)."""
    shard_type = pa.list_(pa.struct([("path", pa.string()), ("filter", pa.string())]))
    schema = pa.schema([("component", pa.string()), ("docs", pa.int64()), ("tokens", pa.int64()),
                        ("synthetic", pa.bool_()), ("natural_weight", pa.float64()),
                        ("token_file", pa.string()), ("shards", shard_type)])
    return pa.Table.from_pylist(rows, schema=schema)
