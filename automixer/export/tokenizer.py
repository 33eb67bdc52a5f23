"""The full run's tokenizer: a Hugging Face ``tokenizers`` JSON file or a local ``transformers`` folder.

Nothing is downloaded. A folder that holds ``tokenizer.json`` is read with ``tokenizers`` alone; any
other folder needs ``transformers`` (imported only then, with ``local_files_only``). Every document
gets the tokenizer's end-of-text id appended, as Megatron's ``preprocess_data.py --append-eod`` does.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from dataplane.errors import InputError

EOS_CANDIDATES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "[EOS]", "<eot>")


@dataclass(frozen=True)
class FullTokenizer:
    """A loaded tokenizer: ``encode(texts)`` gives each text's ids (without the end-of-text id)."""

    path: str
    eos_id: int
    vocab_size: int
    sha256: str
    """Hash of the tokenizer's files, for the export manifest and resume checks."""
    backend: object

    def encode(self, texts: list[str]) -> list[list[int]]:
        if hasattr(self.backend, "encode_batch"):  # tokenizers.Tokenizer
            return [e.ids for e in self.backend.encode_batch(texts, add_special_tokens=False)]
        return self.backend(texts, add_special_tokens=False)["input_ids"]  # a transformers tokenizer


def _files_sha(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _from_json(path: Path, shown: Path) -> FullTokenizer:
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type on a bad file
        raise InputError(f"{path}: not a tokenizers JSON file: {exc}") from None
    eos = next((i for c in EOS_CANDIDATES if (i := tok.token_to_id(c)) is not None), None)
    if eos is None:
        raise InputError(f"{path}: no end-of-text token (looked for {', '.join(EOS_CANDIDATES)})")
    files = [path] if path == shown else [p for p in shown.iterdir() if p.is_file()]
    return FullTokenizer(str(shown), eos, tok.get_vocab_size(with_added_tokens=True), _files_sha(files), tok)


def _from_transformers(folder: Path) -> FullTokenizer:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise InputError(f"{folder}: holds no tokenizer.json; reading it needs `pip install transformers`") from None
    try:
        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder}: not a transformers tokenizer folder: {exc}") from None
    if tok.eos_token_id is None:
        raise InputError(f"{folder}: the tokenizer has no eos_token")
    files = [p for p in folder.iterdir() if p.is_file()]
    return FullTokenizer(str(folder), int(tok.eos_token_id), len(tok), _files_sha(files), tok)


@functools.lru_cache(maxsize=4)
def load_full_tokenizer(path: str) -> FullTokenizer:
    """The tokenizer at ``path`` (cached per process, so each worker loads it once)."""
    p = Path(path)
    if p.is_file():
        return _from_json(p, p)
    if p.is_dir():
        return _from_json(p / "tokenizer.json", p) if (p / "tokenizer.json").is_file() else _from_transformers(p)
    raise InputError(f"{path}: tokenizer not found (a tokenizers JSON file or a local transformers folder)")
