"""Plain-text helpers of the offline rules: sentence splitting, salient terms, key sentences.

Everything is deterministic: ties break by position, never by a random draw.
"""

from __future__ import annotations

import re
from collections import Counter

_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9`])")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*|\d+(?:\.\d+)?")
_WIKITEXT = [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" ,", ","), (" .", "."), (" ;", ";"),
             (" :", ":"), ("( ", "("), (" )", ")"), (" 's", "'s"), (" n't", "n't"), ("<unk>", "")]
STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from as is are was were be been being
    this that these those it its it's into than also not no can may might will would should could do does
    did done has have had having which who whom whose what when where why how all any each more most other
    some such only own same so too very just over under again further once here there about above below
    between both during before after up down out off our your their his her they them we you he she i me
    my use used using one two new see e g ie eg""".split()
)


def tidy(text: str) -> str:
    """Undo tokenised spacing (WikiText style) and squeeze blanks, keeping paragraph breaks."""
    for old, new in _WIKITEXT:
        text = text.replace(old, new)
    paragraphs = [re.sub(r"[ \t]+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def split_sentences(text: str) -> list[str]:
    """Sentences of prose; a line break inside a paragraph joins, a blank line or a heading ends one."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = re.sub(r"\s+", " ", para).strip()
        if not para:
            continue
        out.extend(s.strip() for s in _SENT_END.split(para) if s.strip())
    return out


def is_prose(sentence: str) -> bool:
    """A sentence worth keeping: mostly words, a few of them, ends like a sentence."""
    words = words_of(sentence)
    letters = sum(c.isalpha() for c in sentence)
    return len(words) >= 5 and letters >= 0.6 * len(sentence) and sentence[-1:] in ".!?:"


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


def content_words(text: str) -> list[str]:
    return [w.lower() for w in words_of(text) if w.lower() not in STOPWORDS and len(w) > 2]


def salient_terms(text: str, k: int = 5) -> list[str]:
    """The ``k`` most frequent content words (first occurrence breaks ties)."""
    counts = Counter(content_words(text))
    order = {w: i for i, w in reversed(list(enumerate(content_words(text))))}
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], order[kv[0]]))[:k]]


def key_sentences(sentences: list[str], k: int) -> list[str]:
    """The ``k`` sentences with the most frequent content words, in their original order."""
    counts = Counter(w for s in sentences for w in content_words(s))

    def score(i: int) -> float:
        words = content_words(sentences[i])
        base = sum(counts[w] for w in words) / (len(words) + 3) if words else 0.0
        return base * (1.2 if i == 0 else 1.0) * (1.0 if is_prose(sentences[i]) else 0.3)

    best = sorted(range(len(sentences)), key=lambda i: (-score(i), i))[:k]
    return [sentences[i] for i in sorted(best)]


def cut_at_sentence(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, at a sentence end where there is one."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    end = max(head.rfind(". "), head.rfind(".\n"), head.rfind("? "), head.rfind("! "))
    return head[: end + 1] if end > max_chars // 2 else head


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Lower-cased word n-grams (the whole text as one shingle when shorter than n)."""
    words = [w.lower() for w in words_of(text)]
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
