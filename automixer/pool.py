"""Which finished shards hold the curated pool that later stages read."""

from __future__ import annotations

from pathlib import Path

from dataplane.errors import StageError
from dataplane.store import StageStore


def kept_store(workdir: Path, reader: str) -> StageStore:
    """The stage whose kept documents ``reader`` starts from: dedup's, else curate's.

    A dedup stage with no finished kept shard (never run, or stopped before its first) falls back to
    curate, saying so; a StageError names the command to run when neither has any.
    """
    for stage in ("dedup", "curate"):
        store = StageStore(workdir, stage)
        if store.files("kept"):
            return store
        if store.exists():
            print(f"[{reader}] {stage} has no finished kept shards in {store.root}; looking further upstream")
    raise StageError(f"{reader} reads the kept documents of dedup or curate, but neither has finished any in "
                     f"{workdir}: run `automixer curate CONFIG` (and `automixer dedup CONFIG`) first")
