"""Fixtures of the export tests: the sweep's tiny workdir with its components, a mixture and a full-run tokenizer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sweep"))
from export_fixtures import WEIGHTS, full_run_tokenizer  # noqa: E402
from tiny_workdir import build_tiny_workdir, tiny_config  # noqa: E402

from automixer.mixing.mixture import Mixture  # noqa: E402
from automixer.sweep.components import build_components  # noqa: E402


@pytest.fixture
def exported_inputs(tmp_path):
    """(config, mixture file, full-run tokenizer file) over a tiny workdir whose components are built."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = tiny_config(workdir, build_tiny_workdir(workdir))
    rows, _, _ = build_components(config)
    info = {r["component"]: r for r in rows}
    assert set(info) == set(WEIGHTS), sorted(info)
    mixture = Mixture(weights=WEIGHTS, token_budget=2000,
                      available_tokens={c: r["tokens"] for c, r in info.items()},
                      token_files={c: r["token_file"] for c, r in info.items()},
                      shards={c: r["shards"] for c, r in info.items()})
    mixture_file = mixture.save(tmp_path / "mixture.yaml")
    prose = [json.dumps(i) + " the river city morning light walked slowly quiet story" for i in range(200)]
    return config, mixture_file, full_run_tokenizer(tmp_path / "full_tokenizer.json", prose)
