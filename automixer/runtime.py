"""Ray runtime: local by default, an existing cluster when an address is given. Nothing else in the
project cares which."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterator, Optional


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """Where the work runs."""

    address: Optional[str] = None
    """Ray cluster to join ("auto", "ray://host:10001", "host:6379"); null starts a local Ray."""
    num_cpus: Optional[int] = None
    """CPUs of a local Ray (null: all of this machine's). Ignored when joining a cluster."""
    object_store_mb: int = 512
    """Object store size of a local Ray, in MiB."""

    def validate(self) -> None:
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"num_cpus must be at least 1, got {self.num_cpus}")


def init_ray(config: RuntimeConfig, address: Optional[str] = None):
    """Start or join Ray once per process; ``address`` (from --ray-address) overrides the config."""
    import ray

    if ray.is_initialized():
        return ray
    _quiet_startup()
    address = address or config.address or os.environ.get("AUTOMIXER_RAY_ADDRESS")
    kwargs = dict(logging_level=logging.WARNING, log_to_driver=True, include_dashboard=False)
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(
            address="local",  # "null starts a local Ray": never join a cluster found in /tmp/ray
            num_cpus=config.num_cpus,
            object_store_memory=config.object_store_mb * 1024 * 1024,
            **kwargs,
        )
    _quiet_ray_data()
    return ray


_NOISE = {
    # Ray's default for a local cluster, printed on every command; the security warning when it is off stays.
    "ray._private.authentication.authentication_token_setup": "Token authentication is enabled",
    # We turn progress bars off on a pipe on purpose (see _quiet_ray_data).
    "ray.data._internal.progress": "Progress bars",
}


class _DropMessages(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def _quiet_startup() -> None:
    """Drop Ray's start-up notices that say nothing about this run (once per process)."""
    for name, prefix in _NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(prefix))


def _quiet_ray_data() -> None:
    """Progress bars on a terminal; on a pipe or log file, only warnings (the stages print their own progress)."""
    import ray.data

    interactive = sys.stdout.isatty()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = interactive
    if hasattr(ctx, "enable_operator_progress_bars"):
        ctx.enable_operator_progress_bars = interactive
    if not interactive:
        logging.getLogger("ray.data").setLevel(logging.WARNING)


def ray_tasks(fn: Callable[..., dict], calls: list[dict]) -> list[dict]:
    """Run each call (keyword arguments) of ``fn`` as one Ray task on one CPU; return the results in order.

    The Ray side of the project's task executor (``dedup.chain.MapTasks``; ``dedup.chain.in_process``
    runs the same calls in this process). Results should be small dicts: tasks write their data to files.
    """
    import ray

    remote = ray.remote(num_cpus=1)(fn)
    return ray.get([remote.remote(**call) for call in calls])


def ray_map_rows(fn: Callable[..., dict], rows: list[dict], **kwargs) -> list[dict]:
    """Run ``fn(row, **kwargs) -> dict`` once per row as Ray Data map_batches tasks; return the dicts.

    Rows travel as JSON strings so that Arrow never has to infer a schema for nested fields.
    """
    return list(ray_iter_rows(fn, rows, **kwargs))


def ray_iter_rows(fn: Callable[..., dict], rows: list[dict], **kwargs) -> Iterator[dict]:
    """Like ``ray_map_rows``, but yield each dict as soon as its task is back (a caller can record
    finished work before the last task ends, so a kill loses only the unfinished tasks)."""
    if not rows:
        return
    import ray

    def call(batch):
        return {"result": [json.dumps(fn(json.loads(r), **kwargs)) for r in batch.column("row").to_pylist()]}

    ds = ray.data.from_items([{"row": json.dumps(r)} for r in rows], override_num_blocks=len(rows))
    ds = ds.map_batches(call, batch_size=1, batch_format="pyarrow")
    for r in ds.iter_rows():
        yield json.loads(r["result"])


def cluster_has_gpus() -> bool:
    import ray

    return ray.cluster_resources().get("GPU", 0) > 0
