"""The export read back by Megatron-Core itself: its blended GPT dataset draws the mixture's full-run token shares."""

from __future__ import annotations

import json
import warnings

import pyarrow.parquet as pq
import pytest
from export_fixtures import WEIGHTS

from automixer.flows.export import run_export
from automixer.sweep.components import default_component

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*Transformer Engine and Apex.*")
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from megatron.core.datasets.megatron_tokenizer import MegatronLegacyTokenizer
    from megatron.core.datasets.utils import get_blend_from_list


class _Ids(MegatronLegacyTokenizer):
    """What GPTDataset asks of a tokenizer when the data is already tokenised: eod, pad, vocab size."""

    def __init__(self, eod: int, pad: int, size: int):
        super().__init__()
        self._eod, self._pad, self._size = eod, pad, size

    def tokenize(self, text):
        raise NotImplementedError

    vocab = inv_vocab = property(lambda self: {})
    vocab_size = property(lambda self: self._size)
    eod = property(lambda self: self._eod)
    pad = property(lambda self: self._pad)


def _expected_full_shares(config, tokenizer_file) -> dict[str, float]:
    """w_c * f_c / p_c, normalised, from the pool counted here with both tokenizers (not from the export)."""
    from tokenizers import Tokenizer

    tokenizers = {"proxy": Tokenizer.from_file(str(config.workdir_path / "tokenizer.json")),
                  "full": Tokenizer.from_file(str(tokenizer_file))}
    counts = {kind: dict.fromkeys(WEIGHTS, 0) for kind in tokenizers}
    for path in sorted(config.workdir_path.glob("*/*/*.parquet")):
        for row in pq.read_table(path).to_pylist():
            key = (row["source"], row["bucket"], row["synthetic"], row["synth_strategy"])
            c = default_component("source_bucket", *key)
            for kind, tok in tokenizers.items():
                counts[kind][c] += len(tok.encode(row["text"], add_special_tokens=False).ids) + 1
    scaled = {c: w * counts["full"][c] / counts["proxy"][c] for c, w in WEIGHTS.items()}
    return {c: s / sum(scaled.values()) for c, s in scaled.items()}


@pytest.fixture
def one_rank(tmp_path):
    """A one-process gloo group: Megatron's BlendedDataset asks torch.distributed for its rank."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.usefixtures("one_rank")
def test_megatron_blended_dataset_draws_the_mixtures_full_run_token_shares(exported_inputs, tmp_path):
    config, mixture_file, tokenizer_file = exported_inputs
    out = tmp_path / "export"
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=out)
    manifest = json.loads((out / "export_manifest.json").read_text())
    blend = get_blend_from_list((out / "megatron_blend.txt").read_text().split("\n", 1)[1].split())
    seq_len, num_samples = 32, 2000
    gpt_config = GPTDatasetConfig(
        random_seed=1, sequence_length=seq_len, blend=blend, split="1,0,0", path_to_cache=str(tmp_path / "cache"),
        reset_position_ids=False, reset_attention_mask=False, eod_mask_loss=False,
        tokenizer=_Ids(manifest["tokenizer"]["eos_id"], 0, manifest["tokenizer"]["vocab_size"]))
    train, _, _ = BlendedMegatronDatasetBuilder(GPTDataset, [num_samples, 0, 0], lambda: True, gpt_config).build()

    component_of = {p["prefix"]: c for c, e in manifest["components"].items() for p in e["prefixes"]}
    drawn = dict.fromkeys(WEIGHTS, 0)
    for i in range(2000):  # what a training run reads first
        sample = train[i]
        drawn[component_of[train.datasets[int(sample["dataset_id"])].dataset_path]] += len(sample["tokens"])
    shares = {c: n / sum(drawn.values()) for c, n in drawn.items()}
    expected = _expected_full_shares(config, tokenizer_file)
    for c in WEIGHTS:
        assert shares[c] == pytest.approx(expected[c], abs=0.01), (c, shares, expected)
        assert manifest["components"][c]["full_share"] == pytest.approx(expected[c], rel=1e-9)
    # the conversion matters here: the full-run tokenizer compresses prose better than code
    assert max(abs(expected[c] - w) for c, w in WEIGHTS.items()) > 0.05


def test_indexed_datasets_hold_each_document_in_pool_order_with_its_end_of_text(exported_inputs, tmp_path):
    from tokenizers import Tokenizer

    config, mixture_file, tokenizer_file = exported_inputs
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer_file, out_dir=tmp_path / "export")
    manifest = json.loads((tmp_path / "export" / "export_manifest.json").read_text())
    tok, eos = Tokenizer.from_file(str(tokenizer_file)), manifest["tokenizer"]["eos_id"]
    for c, entry in manifest["components"].items():
        for p in entry["prefixes"]:
            rows = [r for r in pq.read_table(p["shard"]).to_pylist()
                    if default_component("source_bucket", r["source"], r["bucket"], r["synthetic"],
                                         r["synth_strategy"]) == c]
            expected = [tok.encode(r["text"], add_special_tokens=False).ids + [eos] for r in rows]
            dataset = IndexedDataset(p["prefix"])
            assert len(dataset) == len(expected) == p["docs"] > 0
            assert [dataset[i].tolist() for i in range(len(dataset))] == expected
