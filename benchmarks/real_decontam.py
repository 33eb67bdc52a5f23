"""N-gram decontamination on the real run: items dropped per evaluation set, time and memory of the pass.

For n in (8, 13, 20) words: how many items of each configured evaluation set share an n-gram with a
document of the training pool (dedup kept + synth docs), the wall time of the streaming pass over the
pool, and the peak Python memory (tracemalloc) of the pass. The sweep uses sweep.decontam_ngram (13).

Run after `make real` (or up to `automixer synth configs/real-cpu.yaml`):
    .venv/bin/python benchmarks/real_decontam.py [configs/real-cpu.yaml]
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from automixer.config import load_config  # noqa: E402
from automixer.sweep.components import build_components, load_tokenizer, pool_shards  # noqa: E402
from automixer.sweep.decontam import contaminated, shard_texts  # noqa: E402
from automixer.sweep.eval_sets import load_eval_set  # noqa: E402


def main(config_path: str) -> None:
    config = load_config(config_path)
    _, info, train_ids = build_components(config)
    tok, _ = load_tokenizer(config)
    shards = pool_shards(config.workdir_path)
    n_docs = sum(pq.ParquetFile(p).metadata.num_rows for p in shards)
    sets = [(Path(cfg.path).name, [full for full, _ in load_eval_set(config, cfg, tok, info, train_ids)[0]])
            for cfg in config.sweep.eval]
    flat = [t for _, items in sets for t in items]
    print(
        f"{len(flat)} evaluation items in {len(sets)} sets against {n_docs} training documents ({len(shards)} shards)"
    )
    for n in (8, 13, 20):
        tracemalloc.start()
        started = time.time()
        hit = contaminated(flat, shard_texts(shards), n)
        wall = time.time() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        offset, parts = 0, []
        for name, items in sets:
            dropped = sum(offset + i in hit for i in range(len(items)))
            parts.append(f"{name} {dropped}/{len(items)}")
            offset += len(items)
        print(f"n={n:2d}: dropped {len(hit)} items in {wall:.1f} s, peak {peak / 2**20:.0f} MiB: " + ", ".join(parts))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "configs/real-cpu.yaml")
