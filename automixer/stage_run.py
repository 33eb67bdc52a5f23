"""Bookkeeping shared by every stage: resolved config beside the outputs, a stage_runs row, wall time."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

from automixer.catalog import Catalog
from automixer.config import RunConfig, save_resolved


@contextlib.contextmanager
def stage_run(config: RunConfig, stage: str) -> Iterator[dict]:
    """Record one run of ``stage``: yields a dict the stage fills with details for the stage_runs row."""
    started = time.time()
    detail: dict = {}
    stage_dir = config.workdir_path / stage
    stage_dir.mkdir(parents=True, exist_ok=True)
    save_resolved(config, stage_dir)
    status = "failed"
    try:
        yield detail
        status = "ok"
    finally:
        save_resolved(config, stage_dir)  # again: a stage that reset its folder removed the first copy
        detail["wall_s"] = round(time.time() - started, 3)
        with Catalog(config.workdir_path) as catalog:
            catalog.record_stage_run(stage, started, status, config.hash(), detail)
