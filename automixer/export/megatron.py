"""One export unit: the rows of one pool shard that belong to one component -> a Megatron-Core indexed dataset.

A unit reads its rows of the shard in record batches (DuckDB applies the filter), tokenises
each batch with the full run's tokenizer, appends the end-of-text id to every document and writes
``<prefix>.bin`` / ``<prefix>.idx`` with megatron-core's own ``IndexedDatasetBuilder``. Both files are
written under temporary names and renamed, then ``<prefix>.done.json`` (the unit's counts) is written
last: its existence means the unit finished, so a killed export redoes only units without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from automixer.export.tokenizer import load_full_tokenizer
from dataplane.errors import StageError
from dataplane.store import atomic_write_text

BATCH_ROWS = 2048


def megatron_writer():
    """megatron-core's (DType, IndexedDatasetBuilder); its import warns about Transformer Engine and Apex,
    which the data code does not use."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Transformer Engine and Apex.*")
            from megatron.core.datasets.indexed_dataset import DType, IndexedDatasetBuilder
    except ImportError:
        raise StageError("automixer export needs megatron-core: pip install 'automixer[export]'") from None
    return DType, IndexedDatasetBuilder


def done_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.done.json")


def read_done(prefix: str | Path) -> dict | None:
    """The counts of a finished unit, or None if it has not finished."""
    path = done_path(prefix)
    return json.loads(path.read_text()) if path.exists() else None


def _selected_texts(shard: str, where: str):
    """Yield lists of the texts of ``shard``'s rows matching the SQL ``where``, batch by batch, in row order
    (DuckDB keeps the file's order for a query without ORDER BY: preserve_insertion_order)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.execute("SET preserve_insertion_order = true")
        path = "'" + shard.replace("'", "''") + "'"
        for batch in con.sql(f"SELECT text FROM read_parquet({path}) WHERE {where}").to_arrow_reader(BATCH_ROWS):
            if batch.num_rows:
                yield batch.column(0).to_pylist()
    finally:
        con.close()


def export_unit(*, shard: str, where: str, prefix: str, tokenizer: str) -> dict:
    """Tokenise the matching rows of ``shard`` into ``prefix``.bin/.idx unless done; return the unit's counts."""
    done = read_done(prefix)
    if done is not None:
        return done
    DType, IndexedDatasetBuilder = megatron_writer()
    tok = load_full_tokenizer(tokenizer)
    dtype = DType.optimal_dtype(tok.vocab_size)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{Path(prefix).parent}/.{Path(prefix).name}.tmp.{os.getpid()}"
    builder = IndexedDatasetBuilder(f"{tmp}.bin", dtype=dtype)
    docs = tokens = 0
    for texts in _selected_texts(shard, where):
        for ids in tok.encode(texts):
            doc = np.asarray(ids + [tok.eos_id], dtype=dtype)
            builder.add_document(doc, [len(doc)])
            docs, tokens = docs + 1, tokens + len(doc)
    builder.finalize(f"{tmp}.idx")
    os.replace(f"{tmp}.bin", f"{prefix}.bin")
    os.replace(f"{tmp}.idx", f"{prefix}.idx")
    counts = {"docs": docs, "tokens": tokens}
    atomic_write_text(done_path(prefix), json.dumps(counts, sort_keys=True))
    return counts
