"""Fixtures of the sweep tests."""

from __future__ import annotations

import pytest
from tiny_workdir import build_tiny_workdir, tiny_config


@pytest.fixture
def tiny(tmp_path):
    """(config, eval files) over a fresh tiny workdir."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    eval_files = build_tiny_workdir(workdir)
    return tiny_config(workdir, eval_files), eval_files
