"""Per-document text statistics shared by the heuristic filters and the LightGBM quality features.

Words are whitespace-separated tokens; ``clean_words`` strip surrounding punctuation. Statistics are
computed lazily and once, so a filter that fails early costs little.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import cached_property

import numpy as np

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("\u2022", "-", "*", "\u00b7", "\u2013")
_PUNCT = string.punctuation + "\u201c\u201d\u2018\u2019\u2026\u2013\u2014"
_ALPHA_WORD = re.compile(r"\S*[^\W\d_]\S*")
_ALNUM, _DIGIT = re.compile(r"[^\W_]"), re.compile(r"\d")
_PUNCT_RE = re.compile("[" + re.escape(_PUNCT) + "]")


class TextStats:
    """Statistics of one document's text."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return self.text.split()

    @cached_property
    def clean_words(self) -> list[str]:
        return [c for c in (w.strip(_PUNCT) for w in self.words) if c]

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @cached_property
    def nonempty_lines(self) -> list[str]:
        return [ln for ln in self.lines if ln.strip()]

    @property
    def n_words(self) -> int:
        return len(self.clean_words)

    @cached_property
    def mean_word_length(self) -> float:
        return sum(map(len, self.clean_words)) / len(self.clean_words) if self.clean_words else 0.0

    def symbol_word_ratio(self) -> float:
        symbols = self.text.count("#") + self.text.count("...") + self.text.count("\u2026")
        return symbols / max(len(self.words), 1)

    def line_share(self, predicate) -> float:
        lines = self.nonempty_lines
        return sum(1 for ln in lines if predicate(ln)) / len(lines) if lines else 0.0

    def ellipsis_line_share(self) -> float:
        return self.line_share(lambda ln: ln.rstrip().endswith(("...", "\u2026")))

    def bullet_line_share(self) -> float:
        return self.line_share(lambda ln: ln.lstrip().startswith(BULLETS))

    def alpha_word_share(self) -> float:
        return len(_ALPHA_WORD.findall(self.text)) / len(self.words) if self.words else 0.0

    @cached_property
    def stop_word_count(self) -> int:
        return sum(1 for w in self.clean_words if w.lower() in STOP_WORDS)

    def dup_line_share(self) -> float:
        seen: set[str] = set()
        dups = 0
        for ln in self.nonempty_lines:
            key = ln.strip()
            dups += key in seen
            seen.add(key)
        return dups / len(self.nonempty_lines) if self.nonempty_lines else 0.0

    def dup_ngram_share(self, n: int) -> float:
        """Share of words covered by a word n-gram that occurs more than once."""
        words = [w.lower() for w in self.clean_words]
        if len(words) < n:
            return 0.0
        grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
        counts = Counter(grams)
        covered, until = 0, 0  # words covered so far; end of the last repeated n-gram
        for i, g in enumerate(grams):
            if counts[g] > 1:
                covered += i + n - max(i, until)
                until = i + n
        return covered / len(words)

    def marker_line_share(self, markers: tuple[str, ...]) -> float:
        pattern = re.compile("|".join(re.escape(m) for m in markers))
        return self.line_share(lambda ln: pattern.search(ln.lower()) is not None)

    def char_shares(self) -> tuple[float, float, float, float, float]:
        """Shares of letters+digits, digits, upper-case, punctuation and non-ASCII characters."""
        text = self.text
        n = max(len(text), 1)
        alnum = len(_ALNUM.findall(text))
        digits = len(_DIGIT.findall(text))
        upper = sum(map(str.isupper, text))
        punct = len(_PUNCT_RE.findall(text))
        non_ascii = len(text) - len(text.encode("ascii", "ignore"))
        return alnum / n, digits / n, upper / n, punct / n, non_ascii / n


FEATURE_NAMES = (
    "log_words", "log_chars", "log_lines", "mean_word_length", "mean_line_length", "symbol_word_ratio",
    "ellipsis_lines", "bullet_lines", "alpha_words", "stop_word_share", "dup_lines", "dup_5gram_share",
    "alnum_share", "digit_share", "upper_share", "punct_share", "non_ascii_share",
)


def features(text: str, max_chars: int = 20_000) -> list[float]:
    """The heuristic feature vector of a document (FEATURE_NAMES order), on its first max_chars characters."""
    s = TextStats(text[:max_chars])
    n_lines = max(len(s.nonempty_lines), 1)
    return [
        float(np.log1p(s.n_words)), float(np.log1p(len(text))), float(np.log1p(n_lines)),
        s.mean_word_length, len(s.text) / n_lines, s.symbol_word_ratio(), s.ellipsis_line_share(),
        s.bullet_line_share(), s.alpha_word_share(), s.stop_word_count / max(s.n_words, 1),
        s.dup_line_share(), s.dup_ngram_share(5), *s.char_shares(),
    ]
