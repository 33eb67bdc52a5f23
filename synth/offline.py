"""The offline backend: deterministic rule-based rewriting, no model.

Seed rules take the seed text; pipeline rules take a list of features (dicts with doc_id, kind, key,
text; see synth/features.py). A ``variant`` integer (from the task id) picks among fixed phrasings,
so the same input always gives the same output. Documents it writes carry synth_backend='offline'
and synth_model=OFFLINE_MODEL: nothing pretends a model wrote them.
"""

from __future__ import annotations

import hashlib
import re

from synth.text import content_words, cut_at_sentence, is_prose, key_sentences, salient_terms, split_sentences, tidy

OFFLINE_MODEL = "rules-v1"
_DEFINITION = re.compile(r"^(?:The |An? )?([A-Za-z][\w.\- ]{0,40}?) (?:is|are|refers to|means) (?:an?|the|one) ")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w])")
_FOLLOW_UPS = ["Can you say more?", "Why does that matter?", "What else should I know?",
               "How does that fit together?", "Is there an example of that?"]


def _prose(text: str, max_chars: int) -> list[str]:
    sentences = split_sentences(tidy(cut_at_sentence(text, max_chars)))
    return [s for s in sentences if is_prose(s)] or sentences


def _k(n: int, share: float, most: int) -> int:
    return max(1, min(most, round(n * share)))


def _cloze(sentence: str, counts: list[str]) -> tuple[str, str] | None:
    """Blank out a number, else the sentence's most document-salient word."""
    match = _NUMBER.search(sentence)
    if match:
        return sentence[: match.start()] + "____" + sentence[match.end():], match.group()
    words = content_words(sentence)
    for term in counts:
        if term in words:
            blanked = re.sub(rf"\b{re.escape(term)}\b", "____", sentence, count=1, flags=re.IGNORECASE)
            return (blanked, term) if blanked != sentence else None
    return None


def qa(text: str, variant: int, max_chars: int) -> str:
    """Extraction questions from definitions, cloze questions from the other key sentences."""
    sentences = _prose(text, max_chars)
    terms = salient_terms(" ".join(sentences), 8)
    pairs = []
    if len(terms) >= 3:
        pairs.append(("What is this text mainly about?", f"It is mainly about {terms[0]}, {terms[1]} and {terms[2]}."))
    for s in key_sentences(sentences, _k(len(sentences), 0.5, 5)):
        match = _DEFINITION.match(s)
        if match:
            pairs.append((f"What is {match.group(1).strip()}?", s))
            continue
        cloze = _cloze(s, terms)
        if cloze:
            pairs.append((f"Fill in the blank: {cloze[0]}", cloze[1]))
    return "\n\n".join(f"Q: {q}\nA: {a}" for q, a in pairs)


def list_points(text: str, variant: int, max_chars: int) -> str:
    """The key sentences as a bulleted list under a title."""
    sentences = _prose(text, max_chars)
    topic = (salient_terms(" ".join(sentences), 1) or ["this text"])[0]
    points = key_sentences(sentences, _k(len(sentences), 0.5, 7))
    return f"Key points about {topic}:\n" + "\n".join(f"- {p}" for p in points)


def dialogue(text: str, variant: int, max_chars: int) -> str:
    """A student asks, a teacher answers with the key sentences."""
    sentences = _prose(text, max_chars)
    terms = salient_terms(" ".join(sentences), 2) + ["this", "that"]
    turns = [f"Student: What can you tell me about {terms[0]}?"]
    for i, s in enumerate(key_sentences(sentences, _k(len(sentences), 0.5, 5))):
        if i:
            turns.append(f"Student: {_FOLLOW_UPS[(variant + i) % len(_FOLLOW_UPS)]}")
        turns.append(f"Teacher: {s}")
    turns.append(f"Student: So the main ideas are {terms[0]} and {terms[1]}.")
    turns.append("Teacher: Yes, that sums it up.")
    return "\n".join(turns)


def wiki(text: str, variant: int, max_chars: int) -> str:
    """Prose sentences only (boilerplate lines dropped), de-duplicated, tidied, in short paragraphs."""
    seen, kept = set(), []
    for s in split_sentences(tidy(cut_at_sentence(text, max_chars))):
        if is_prose(s) and s.lower() not in seen:
            seen.add(s.lower())
            kept.append(s)
    topic = (salient_terms(" ".join(kept), 1) or ["Article"])[0]
    paragraphs = [" ".join(kept[i : i + 4]) for i in range(0, len(kept), 4)]
    return f"{topic.capitalize()}\n\n" + "\n\n".join(paragraphs)


def distill(text: str, variant: int, max_chars: int) -> str:
    """About a third of the sentences (the key ones), without parentheticals."""
    sentences = _prose(text, max_chars)
    chosen = key_sentences(sentences, _k(len(sentences), 0.3, 8))
    short = [re.sub(r"\s*\([^()]{0,80}\)", "", s) for s in chosen]
    return " ".join(re.sub(r"^(?:Note that|In other words|Basically),?\s+", "", s) for s in short)


def _feature_line(f: dict) -> str:
    if f["kind"] == "definition":
        return f"{f['key']}: {f['text']}"
    if f["kind"] == "code_signature":
        return f"`{f['key']}`: {f['text']}" if f["text"] else f"`{f['key']}`"
    if f["kind"] == "entity":
        return f"{f['key']}: {f['text']}"
    return f["text"]


def knowledge_list(features: list[dict], variant: int, max_chars: int) -> str:
    """Features as a numbered list, grouped by kind."""
    order = ["definition", "fact", "number", "equation", "code_signature", "docstring", "entity"]
    ranked = sorted(features, key=lambda f: order.index(f["kind"]) if f["kind"] in order else len(order))
    topic = ", ".join(salient_terms(" ".join(f["text"] for f in features), 3)) or "assorted topics"
    lines = [f"{i}. {_feature_line(f)}" for i, f in enumerate(ranked, 1)]
    return f"Knowledge list ({topic})\n\n" + "\n".join(lines)


def _exercise(f: dict, terms: list[str]) -> tuple[str, str] | None:
    if f["kind"] == "definition":
        return f"What is {f['key']}?", f["text"]
    if f["kind"] == "code_signature" and f["text"]:
        return f"What does `{f['key']}` do?", f["text"]
    if f["kind"] == "equation" and "=" in f["text"]:
        lhs, rhs = f["text"].split("=", 1)
        return (f"Complete the equation: {lhs.strip()} = ?", rhs.strip()) if rhs.strip() else None
    if f["kind"] in ("fact", "number", "docstring"):
        cloze = _cloze(f["text"], terms)
        return (f"Fill in the blank: {cloze[0]}", cloze[1]) if cloze else None
    return None


def exercises(features: list[dict], variant: int, max_chars: int) -> str:
    """One exercise per usable feature, each with its answer."""
    terms = salient_terms(" ".join(f["text"] for f in features), 10)
    items = [e for e in (_exercise(f, terms) for f in features) if e]
    return "\n\n".join(f"Exercise {i}. {q}\nAnswer: {a}" for i, (q, a) in enumerate(items, 1))


def summary(features: list[dict], variant: int, max_chars: int) -> str:
    """One sentence per source document, then the terms they share."""
    by_doc: dict[str, list[str]] = {}
    for f in features:
        by_doc.setdefault(f["doc_id"], []).append(f["text"])
    lines = [texts[0] for texts in by_doc.values() if texts and texts[0]]
    terms = salient_terms(" ".join(lines), 4)
    head = f"Summary of {len(by_doc)} documents"
    tail = f"Together they cover {', '.join(terms[:-1])} and {terms[-1]}." if len(terms) >= 2 else ""
    return f"{head}:\n\n" + " ".join(lines) + (f"\n\n{tail}" if tail else "")


RULES = {"qa": qa, "list": list_points, "dialogue": dialogue, "wiki": wiki, "distill": distill,
         "knowledge_list": knowledge_list, "exercises": exercises, "summary": summary}


def rules_hash(strategy: str) -> str:
    """The offline 'prompt hash': names the rule set and its version."""
    return hashlib.sha1(f"offline/{OFFLINE_MODEL}/{strategy}".encode()).hexdigest()[:12]
