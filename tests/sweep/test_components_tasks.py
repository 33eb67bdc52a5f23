"""Components built by one task per pool shard: the same token files on Ray as in process, by memory map."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer

from automixer.runtime import ray_tasks
from automixer.sweep.components import build_components, default_component, pool_shards
from dedup.chain import in_process
from proxies.data import load_tokens


def _token_bytes(rows) -> dict[str, bytes]:
    return {r["component"]: np.asarray(load_tokens(r["token_file"])).tobytes() for r in rows}


@pytest.mark.usefixtures("ray_local")
def test_components_on_ray_match_in_process_and_the_pool_tokenised_in_order(tiny):
    config, _ = tiny
    rows, info, doc_ids = build_components(config, map_tasks=ray_tasks)
    on_ray = _token_bytes(rows)
    (config.workdir_path / "components" / "_meta.json").unlink()  # force a rebuild
    rows_local, _, _ = build_components(config, map_tasks=in_process)
    assert _token_bytes(rows_local) == on_ray and rows_local == rows

    tok = Tokenizer.from_file(info.path)
    expected: dict[str, list[int]] = {}
    shards = pool_shards(config.workdir_path)
    for path in shards:
        for row in pq.read_table(path).to_pylist():
            c = default_component("source_bucket", row["source"], row["bucket"], row["synthetic"],
                                  row["synth_strategy"])
            expected.setdefault(c, []).extend(tok.encode(row["text"], add_special_tokens=False).ids + [info.eos_id])
    assert {c: np.array(ids, dtype=np.uint16).tobytes() for c, ids in expected.items()} == on_ray
    assert all(len(list((config.workdir_path / "components" / c).glob("*.npy"))) >= 1 for c in expected)

    pool_ids = {d for p in shards for d in pq.read_table(p, columns=["doc_id"]).column("doc_id").to_pylist()}
    some = set(list(pool_ids)[:5])
    assert ({"not-a-training-doc"} | some) & doc_ids == some
    assert all(d in doc_ids for d in pool_ids)
