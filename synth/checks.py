"""Output checks: an answer is rejected with one reason, or accepted (None).

Reasons: empty, refusal, too_short, too_long, copy (seed-heavy only: the answer reproduces the seed).
"""

from __future__ import annotations

import re

from synth.text import shingles

_REFUSAL = re.compile(
    r"^\W*(?:I'?m sorry|I am sorry|sorry,|I apologi[sz]e|I (?:can ?not|can't|won't|am unable|'m unable|am not able)"
    r"|As an AI|I'm not able|Unfortunately,? I)",
    re.IGNORECASE,
)


def copy_ratios(answer: str, seed: str) -> tuple[float, float]:
    """(share of the answer's 5-grams in the seed, share of the seed's 5-grams in the answer)."""
    a, s = shingles(answer), shingles(seed)
    if not a or not s:
        return 0.0, 0.0
    common = len(a & s)
    return common / len(a), common / len(s)


def check_output(answer: str | None, seed: str | None, *, min_chars: int, max_chars: int,
                 copy_threshold: float) -> str | None:
    """The reason to reject ``answer`` (given its seed text, or None), or None to accept it.

    Set copy_threshold to -1 to disable the copy check.
    """
    text = (answer or "").strip()
    if not text:
        return "empty"
    if _REFUSAL.search(text[:200]):
        return "refusal"
    if len(text) < min_chars:
        return "too_short"
    if len(text) > max_chars:
        return "too_long"
    if seed and copy_threshold != -1:
        in_seed, of_seed = copy_ratios(text, seed)
        if in_seed >= copy_threshold and of_seed >= copy_threshold:
            return "copy"
    return None
