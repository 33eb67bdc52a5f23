"""The project tokenizer: byte-level BPE trained with the ``tokenizers`` library on a pool sample.

Saved as ``<workdir>/tokenizer.json``; the proxies load the same file with ``Tokenizer.from_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pyarrow as pa

from curation.config import TokenizerConfig

END_OF_TEXT = "<|endoftext|>"


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig):
    """A byte-level BPE tokenizer trained on ``texts`` (each cut to config.max_chars)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=config.vocab_size, min_frequency=2, special_tokens=[END_OF_TEXT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((t[: config.max_chars] for t in texts), trainer=trainer)
    return tok


def save_tokenizer(tok, path: Path | str) -> Path:
    from dataplane.store import atomic_write_text

    return atomic_write_text(Path(path), tok.to_str())


class TokenCounter:
    """Stage: sets ``n_tokens`` with the tokenizer saved at ``path`` (loaded once per worker)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._tok = None

    def count(self, texts: list[str]) -> list[int]:
        if self._tok is None:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_file(str(self.path))
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def __call__(self, table: pa.Table) -> pa.Table:
        counts = pa.array(self.count(table.column("text").to_pylist()), pa.int64())
        if "n_tokens" in table.column_names:
            return table.set_column(table.column_names.index("n_tokens"), "n_tokens", counts)
        return table.append_column("n_tokens", counts)
