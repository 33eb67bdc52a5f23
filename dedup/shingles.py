"""Text normalisation, exact-dedup keys and shingles (the sets MinHash estimates Jaccard over).

Normalisation for both exact and near dedup: lower case, words are runs of ``\\w`` characters,
everything else (punctuation, whitespace, markup) is a separator. Two documents that differ only in
case, spacing or punctuation therefore share an exact key.

Shingles (as UTF-8 byte strings here; ``sketch.shingle_hashes`` hashes the same n-grams without
building them):
- word shingles: ``ngram`` consecutive words joined by one space ("the cat sat on the");
- char shingles: ``ngram`` consecutive characters of the normalised text (words joined by one space).
A document shorter than one shingle yields its whole normalised text as a single shingle, so a
one-word document still has a signature; an empty document yields no shingles.
"""

from __future__ import annotations

import hashlib
import re
from itertools import accumulate

_WORD_RE = re.compile(r"\w+")
_sha1 = hashlib.sha1


def normalize(text: str | None) -> str:
    """Lower-cased words of ``text`` joined by single spaces ("" for None or no words)."""
    if not text:
        return ""
    return " ".join(_WORD_RE.findall(text.lower()))


_ASCII_WORD = bytes(c if (chr(c).isalnum() or c == 95) and c < 128 else 32 for c in range(256))
_NON_ASCII_WORD = re.compile(r"[^\W\x00-\x7f]")
_ASCII_BYTES = bytes(range(128))


def normalize_bytes(text: str | None) -> bytes:
    """``normalize(text)`` as UTF-8 bytes, with the same result.

    Texts whose only non-ASCII characters are separators (curly quotes, dashes, no-break spaces) take
    a faster byte-level path: ASCII \\w is [A-Za-z0-9_], so every other byte becomes a space, then split.
    """
    if not text:
        return b""
    lowered = text.lower()
    data = lowered.encode("utf-8")
    # deleting the ASCII bytes leaves the non-ASCII characters, still valid UTF-8, to check for word ones
    if lowered.isascii() or _NON_ASCII_WORD.search(data.translate(None, _ASCII_BYTES).decode("utf-8")) is None:
        return b" ".join(data.translate(_ASCII_WORD).split())
    return " ".join(_WORD_RE.findall(lowered)).encode("utf-8")


def exact_key(normalized: str | bytes) -> int:
    """64-bit key of a normalised text (first 8 bytes of its SHA-1), as a signed int64 value."""
    data = normalized.encode("utf-8") if isinstance(normalized, str) else normalized
    return int.from_bytes(_sha1(data).digest()[:8], "little", signed=True)


def word_shingles(normalized: str, ngram: int) -> list[bytes]:
    """Word n-grams of a normalised text, as bytes (slices of the encoded text: no re-joining)."""
    if not normalized:
        return []
    data = normalized.encode("utf-8")
    words = data.split(b" ")
    n_shingles = len(words) - ngram + 1
    if n_shingles <= 1:
        return [data]
    # starts[i] is the byte offset of word i; a shingle ends one byte (the space) before starts[i + ngram].
    starts = [0, *accumulate(len(w) + 1 for w in words)]
    return [data[s : e - 1] for s, e in zip(starts[:n_shingles], starts[ngram:])]


def char_shingles(normalized: str, ngram: int) -> list[bytes]:
    """Character n-grams of a normalised text, as UTF-8 bytes."""
    if not normalized:
        return []
    n_shingles = len(normalized) - ngram + 1
    if n_shingles <= 1:
        return [normalized.encode("utf-8")]
    return [normalized[i : i + ngram].encode("utf-8") for i in range(n_shingles)]


def shingles(normalized: str, ngram: int, unit: str = "word") -> list[bytes]:
    """Shingles of a normalised text; ``unit`` is "word" or "char"."""
    if unit == "word":
        return word_shingles(normalized, ngram)
    if unit == "char":
        return char_shingles(normalized, ngram)
    raise ValueError(f"unknown shingle unit {unit!r}; expected 'word' or 'char'")
