"""Fixtures of the synth tests: a fault-injecting chat server and a tiny workdir with curated seeds."""

from __future__ import annotations

import pyarrow as pa
import pytest
from synth_testdata import CODE, PROSE, seed_table

from synth.fake_server import FakeChatServer


@pytest.fixture
def chat_server():
    """A chat-completions server on 127.0.0.1; slow answers take 1 s (past the tests' 0.3 s timeout)."""
    with FakeChatServer(slow_s=1.0) as server:
        yield server


@pytest.fixture
def seeds() -> pa.Table:
    return seed_table(PROSE + [("code", "code", CODE)])
