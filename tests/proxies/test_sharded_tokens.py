"""A component stored as a folder of shard arrays reads exactly like the one concatenated array."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from proxies.data import MixtureStream, ShardedTokens, load_tokens


@pytest.fixture
def shards_and_whole(tmp_path):
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 500, n).astype(np.uint16) for n in (7, 40, 3, 25)]
    (tmp_path / "comp").mkdir()
    for i, part in enumerate(parts):
        np.save(tmp_path / "comp" / f"{i:05d}.npy", part)
    np.save(tmp_path / "whole.npy", np.concatenate(parts))
    np.save(tmp_path / "other.npy", rng.integers(0, 500, 50).astype(np.uint16))
    return tmp_path


def test_slices_across_shard_boundaries_match_the_concatenation(shards_and_whole):
    sharded, whole = load_tokens(shards_and_whole / "comp"), load_tokens(shards_and_whole / "whole.npy")
    assert isinstance(sharded, ShardedTokens) and len(sharded) == len(whole) == 75
    for start in range(0, 75):
        for stop in (start + 1, start + 9, start + 33, 75):
            assert np.array_equal(sharded[start:stop], whole[start:min(stop, 75)])
    assert np.array_equal(np.asarray(sharded), whole)


def test_mixture_stream_over_a_folder_draws_the_same_batches(shards_and_whole):
    def batches(comp_path):
        comps = {"a": (0.6, str(comp_path)), "b": (0.4, str(shards_and_whole / "other.npy"))}
        stream = MixtureStream(comps, seq_len=8, batch_size=5, seed=2)
        return [stream.next_batch() for _ in range(6)]

    for (x1, y1), (x2, y2) in zip(batches(shards_and_whole / "comp"), batches(shards_and_whole / "whole.npy")):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_an_empty_component_folder_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no token files"):
        load_tokens(tmp_path / "empty")
