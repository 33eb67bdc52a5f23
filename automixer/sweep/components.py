"""Mixing components: the final document pool cut into named groups, each tokenized into one packed file.

The pool is ``dedup`` kept (or ``curate`` kept when dedup did not run) plus ``synth`` docs. A
document's default component is ``dataplane.schema.component_name`` (``source.q<bucket>`` or
``synth.<strategy>``), or its source alone with ``components.by: source``; ``components.groups``
renames or merges default components (glob patterns). Each component becomes
``<workdir>/components/<name>.npy``: its documents' token ids, each followed by an end-of-text id.

Written (the contract with optimize, see docs/ARCHITECTURE.md): ``components/components.json`` and
catalog table ``components`` with component, docs, tokens, synthetic, natural_weight, token_file,
shards (path + the SQL filter selecting the component's rows in it). ``components/_meta.json``
holds the tokenizer facts (eos id, vocab size) and a fingerprint of the inputs, so an unchanged
pool is not tokenized twice.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from automixer.catalog import Catalog
from automixer.pool import kept_store
from dataplane.errors import StageError
from dataplane.schema import component_name
from dataplane.store import StageStore, atomic_write_text

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
    h = hashlib.sha256()
    for p in shards:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    h.update(Path(tokenizer_path).read_bytes())
    h.update(json.dumps([config.components.by, sorted(config.components.groups.items())]).encode())
    return h.hexdigest()[:16]


def _assign(config, shards: list[Path]):
    """Walk the pool: component -> {"texts": [...], "docs", "synthetic", "shards": {path: set(filters)}}."""
    by, groups = config.components.by, config.components.groups
    comps: dict[str, dict] = {}
    doc_ids: set[str] = set()
    for path in shards:
        table = pq.read_table(path, columns=_POOL_COLUMNS)
        cols = {c: table.column(c).to_pylist() for c in _POOL_COLUMNS}
        doc_ids.update(cols["doc_id"])
        for i, text in enumerate(cols["text"]):
            key = (by, cols["source"][i], cols["bucket"][i], bool(cols["synthetic"][i]), cols["synth_strategy"][i])
            name = group_of(default_component(*key), groups)
            comp = comps.setdefault(name, {"texts": [], "synthetic": key[3], "shards": {}})
            comp["texts"].append(text)
            comp["synthetic"] = comp["synthetic"] and key[3]
            comp["shards"].setdefault(str(path.resolve()), set()).add(default_filter(*key))
    return comps, doc_ids


def train_doc_ids(shards: list[Path]) -> set[str]:
    return {d for p in shards for d in pq.read_table(p, columns=["doc_id"]).column("doc_id").to_pylist()}


def _tokenize(tok, texts: list[str], eos_id: int, dtype) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), 1000):
        for enc in tok.encode_batch(texts[start:start + 1000], add_special_tokens=False):
            parts.append(np.asarray(enc.ids + [eos_id], dtype=dtype))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def build_components(config) -> tuple[list[dict], TokenizerInfo, set[str]]:
    """Tokenize every component (unless unchanged since the last build); return the rows, the
    tokenizer facts and the doc_ids of all training documents (for the eval overlap check)."""
    workdir = config.workdir_path
    out = workdir / "components"
    shards = pool_shards(workdir)
    tok, info = load_tokenizer(config)
    fingerprint = _fingerprint(config, shards, info.path)
    meta_path = out / "_meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text())["fingerprint"] == fingerprint:
        rows = json.loads((out / "components.json").read_text())
        return rows, info, train_doc_ids(shards)
    comps, doc_ids = _assign(config, shards)
    dtype = np.uint16 if info.vocab_size <= 65536 else np.uint32
    rows = []
    for name in sorted(comps):
        comp = comps[name]
        ids = _tokenize(tok, comp["texts"], info.eos_id, dtype)
        token_file = out / f"{name}.npy"
        out.mkdir(parents=True, exist_ok=True)
        tmp = token_file.with_suffix(".tmp.npy")
        np.save(tmp, ids)
        tmp.replace(token_file)
        shards_rows = [{"path": p, "filter": " OR ".join(f"({f})" for f in sorted(fs)) if len(fs) > 1 else next(iter(fs))}
                       for p, fs in sorted(comp["shards"].items())]
        rows.append({"component": name, "docs": len(comp["texts"]), "tokens": int(len(ids)),
                     "synthetic": comp["synthetic"], "natural_weight": 0.0,
                     "token_file": str(token_file.resolve()), "shards": shards_rows})
    total = sum(r["tokens"] for r in rows) or 1
    for r in rows:
        r["natural_weight"] = r["tokens"] / total
    atomic_write_text(out / "components.json", json.dumps(rows, indent=1))
    atomic_write_text(meta_path, json.dumps({"fingerprint": fingerprint, **info.__dict__}, indent=1))
    with Catalog(workdir) as catalog:
        catalog.write_table("components", components_table(rows))
    return rows, info, doc_ids


def components_table(rows: list[dict]) -> pa.Table:
    """The catalog ``components`` table (one row per component)."""
    shard_type = pa.list_(pa.struct([("path", pa.string()), ("filter", pa.string())]))
    schema = pa.schema([("component", pa.string()), ("docs", pa.int64()), ("tokens", pa.int64()),
                        ("synthetic", pa.bool_()), ("natural_weight", pa.float64()),
                        ("token_file", pa.string()), ("shards", shard_type)])
    return pa.Table.from_pylist(rows, schema=schema)
