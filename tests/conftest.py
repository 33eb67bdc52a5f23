"""Shared fixtures: one local Ray per test session, the shared corpora folder, tiny configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPORA = Path(os.environ.get("AUTOMIXER_CORPORA", REPO.parent / "shared" / "corpora"))


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray with 2 CPUs for the whole test session (starting Ray costs seconds)."""
    import ray

    from automixer.runtime import RuntimeConfig, init_ray

    if not ray.is_initialized():
        init_ray(RuntimeConfig(num_cpus=2, object_store_mb=256))
    yield ray


@pytest.fixture(scope="session")
def corpora() -> Path:
    """../shared/corpora; tests that need it skip cleanly where it is absent."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED_CORPORA}")
    return SHARED_CORPORA
