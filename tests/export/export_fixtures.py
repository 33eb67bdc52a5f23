"""Shared pieces of the export tests: the tiny mixture's weights and a full-run tokenizer unlike the proxies'."""

from __future__ import annotations

from pathlib import Path

WEIGHTS = {"code.q0": 0.30, "code.q1": 0.05, "math.q0": 0.15, "math.q1": 0.10, "prose.q0": 0.20, "prose.q1": 0.15,
           "synth.qa": 0.05}


def full_run_tokenizer(path: Path, texts: list[str]) -> Path:
    """A byte-level BPE unlike the proxies': trained on prose only, so components compress differently."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(str(path))
    return path
