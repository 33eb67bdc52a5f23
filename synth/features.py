"""Pipeline-heavy strategies, step 1 and 2: extract features from many documents, bundle them.

A feature is one reusable piece of knowledge: a definition, a fact, an entity, a number or an
equation, a code signature with its docstring, a docstring. ``FeatureExtractor`` maps a table of seed
documents to a FEATURE_SCHEMA table; ``make_bundles`` groups features (across documents of one source)
into recomposition tasks. Extraction is rule-based for every backend; only recomposition uses it.
"""

from __future__ import annotations

import hashlib
import json
import re

import pyarrow as pa

from synth.seeds import rank_key
from synth.text import is_prose, key_sentences, salient_terms, split_sentences, tidy

FEATURE_SCHEMA = pa.schema([
    ("feature_id", pa.string()), ("doc_id", pa.string()), ("source", pa.string()), ("domain", pa.string()),
    ("bucket", pa.int32()), ("quality_score", pa.float64()), ("kind", pa.string()), ("key", pa.string()),
    ("text", pa.string()),
])
KINDS = ("definition", "fact", "entity", "number", "equation", "code_signature", "docstring")
_DEF = re.compile(r"^(?:The |An? )?([A-Za-z][\w.\- ]{0,40}?) (?:is|are|refers to|means|is defined as) (?:an?|the|one) ")
_SIG = re.compile(r"^[ \t]*(?:async )?def (\w+)\(([^)]*)\)[^:]*:[ \t]*\n(?:[ \t]*(?:\"\"\"|''')(.*?)(?:\"\"\"|'''))?",
                  re.MULTILINE | re.DOTALL)
_DOCSTRING = re.compile(r"^(?:\"\"\"|''')(.*?)(?:\"\"\"|''')", re.DOTALL)
_ENTITY = re.compile(r"(?<=[a-z,;] )((?:[A-Z][a-z]+)(?: (?:of |de |the )?[A-Z][a-z]+)+)")
_EQUATION = re.compile(r"(\$[^$]{3,80}\$|\b[\w().^*/+ -]{1,40}\s=\s[\w().^*/+ -]{1,40})")
_NUMBER = re.compile(r"\d")


def _first_sentence(text: str) -> str:
    sentences = split_sentences(text.strip())
    return sentences[0] if sentences else ""


def _code_features(text: str) -> list[tuple[str, str, str]]:
    out = []
    doc = _DOCSTRING.match(text.lstrip())
    if doc and _first_sentence(doc.group(1)):
        out.append(("docstring", "module", _first_sentence(doc.group(1))))
    for name, args, docstring in _SIG.findall(text):
        if not name.startswith("_"):
            out.append(("code_signature", f"{name}({' '.join(args.split())})", _first_sentence(docstring or "")))
    return out


def _prose_features(text: str) -> list[tuple[str, str, str]]:
    out, used = [], set()
    sentences = [s for s in split_sentences(tidy(text)) if is_prose(s)]
    for s in sentences:
        match = _DEF.match(s)
        if match and len(s) <= 300:
            out.append(("definition", match.group(1).strip(), s))
            used.add(s)
        elif _EQUATION.search(s) and _NUMBER.search(s):
            out.append(("equation", "", _EQUATION.search(s).group(1).strip(" $")))
            used.add(s)
    for s in sentences:
        if s not in used and _NUMBER.search(s) and len(s) <= 300:
            out.append(("number", "", s))
            used.add(s)
            break
    for s in key_sentences([s for s in sentences if s not in used], 3):
        if len(s) <= 400:
            out.append(("fact", (salient_terms(s, 1) or [""])[0], s))
    for s in sentences[:20]:
        for name in _ENTITY.findall(s)[:1]:
            out.append(("entity", name, s))
    return out


def extract_features(text: str, domain: str, max_features: int = 12) -> list[tuple[str, str, str]]:
    """(kind, key, text) features of one document, at most ``max_features``, in a stable order."""
    if domain == "code":  # code lines are not prose: only signatures and docstrings
        found = _code_features(text)
    else:
        found = (_code_features(text) if "def " in text else []) + _prose_features(text)
    seen, out = set(), []
    for kind, key, body in found:
        if body and (kind, body) not in seen:
            seen.add((kind, body))
            out.append((kind, key, body))
    return out[:max_features]


def feature_id(doc_id: str, kind: str, text: str) -> str:
    return hashlib.sha1(f"{doc_id}\x00{kind}\x00{text}".encode()).hexdigest()[:16]


class FeatureExtractor:
    """Stage: seed documents (doc_id, source, domain, bucket, quality_score, text) -> FEATURE_SCHEMA rows.

    Args:
        max_chars: seeds are cut to this many characters first.
    """

    def __init__(self, max_chars: int = 6000):
        self.max_chars = max_chars

    def __call__(self, seeds: pa.Table) -> pa.Table:
        rows = []
        for doc in seeds.to_pylist():
            for kind, key, body in extract_features(doc["text"][: self.max_chars], doc["domain"]):
                rows.append({"feature_id": feature_id(doc["doc_id"], kind, body), "doc_id": doc["doc_id"],
                             "source": doc["source"], "domain": doc["domain"], "bucket": doc.get("bucket"),
                             "quality_score": doc.get("quality_score"), "kind": kind, "key": key, "text": body})
        return pa.Table.from_pylist(rows, schema=FEATURE_SCHEMA)


_USABLE = {
    "knowledge_list": {"definition", "fact", "number", "equation", "code_signature", "docstring", "entity"},
    "exercises": {"definition", "fact", "number", "equation", "code_signature"},
    "summary": {"fact", "definition", "docstring"},
}


def _groups(features: list[dict], strategy: str, per: int, seed: int) -> list[list[dict]]:
    """Chunks of features of one source: ``per`` features, or (summary) ``per`` documents' best ones."""
    if strategy != "summary":
        ordered = sorted(features, key=lambda f: rank_key(seed, strategy, f["feature_id"]))
        return [ordered[i : i + per] for i in range(0, len(ordered) - per + 1, per)] or [ordered]
    by_doc: dict[str, list[dict]] = {}
    for f in features:
        by_doc.setdefault(f["doc_id"], []).append(f)
    docs = sorted(by_doc, key=lambda d: rank_key(seed, strategy, d))
    chunks = [docs[i : i + per] for i in range(0, len(docs) - per + 1, per)]
    return [[f for d in chunk for f in by_doc[d][:2]] for chunk in chunks]


def make_bundles(features: pa.Table, strategy: str, *, per: int, max_outputs: int, seed: int) -> list[dict]:
    """Recomposition tasks: one per bundle, sources interleaved, at most ``max_outputs``."""
    usable = [f for f in features.to_pylist() if f["kind"] in _USABLE[strategy]]
    by_source: dict[str, list[dict]] = {}
    for f in usable:
        by_source.setdefault(f["source"], []).append(f)
    per_source = [_groups(fs, strategy, per, seed) for _, fs in sorted(by_source.items())]
    interleaved = [p[i] for i in range(max(map(len, per_source), default=0)) for p in per_source if i < len(p)]
    return [_bundle_task(group, strategy) for group in interleaved[:max_outputs] if group]


def _bundle_task(group: list[dict], strategy: str) -> dict:
    buckets = {f["bucket"] for f in group}
    scores = [f["quality_score"] for f in group if f["quality_score"] is not None]
    payload = [{k: f[k] for k in ("feature_id", "doc_id", "kind", "key", "text")} for f in group]
    return {
        "strategy": strategy, "parent_id": ",".join(f["feature_id"] for f in group),
        "source": group[0]["source"], "domain": group[0]["domain"],
        "bucket": buckets.pop() if len(buckets) == 1 else None,
        "quality_score": sum(scores) / len(scores) if scores else None,
        "payload": json.dumps(payload, ensure_ascii=False),
    }
