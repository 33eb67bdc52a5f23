"""Evaluation sets of the sweep: held-out JSONL files tokenized into scored items, one set per capability group.

Items whose text is also a training document (by doc_id, before or after curation's normalisation) are
dropped with a count, or rejected with ``sweep.eval_overlap: error``. Then items sharing a long word
n-gram with any training document are dropped too (``sweep.decontam_ngram``; automixer.sweep.decontam),
and the count dropped per set is printed.
"""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path

from automixer.sweep.components import TokenizerInfo, load_tokenizer
from automixer.sweep.decontam import contaminated, shard_texts
from dataplane.errors import InputError, StageError
from dataplane.jsonl import iter_jsonl
from dataplane.schema import doc_id_for
from proxies.evaluate import EvalItem, EvalSet, Scored


def _read_rows(path: Path, max_items: int) -> list[tuple[int, dict]]:
    """(line number, row) of the first max_items JSON lines of a .jsonl or .jsonl.gz file."""
    if not path.exists():
        raise InputError(f"{path}: evaluation file not found")
    return list(itertools.islice(iter_jsonl(path), max_items))


def _get(row: dict, key: str, where: str):
    if key not in row:
        raise InputError(f"{where}: missing field {key!r}; fields are: {', '.join(sorted(row))}")
    value = row[key]
    return "\n".join(map(str, value)) if isinstance(value, list) else value


def _text(row: dict, spec, where: str) -> str:
    keys = [spec] if isinstance(spec, str) else list(spec)
    return "\n".join(str(_get(row, k, where)) for k in keys)


def _choices(row: dict, spec, where: str) -> list[str]:
    if isinstance(spec, str):
        if not isinstance(row.get(spec), list):
            raise InputError(f"{where}: field {spec!r} must be a list of choices")
        return [str(c) for c in row[spec]]
    return [str(_get(row, k, where)) for k in spec]


def normalised_ids(text: str) -> set[str]:
    """doc_ids of a text as given and after curation's normalisation (NFC, LF line ends, no trailing
    whitespace per line, no blank lines at either end), so both spellings are caught."""
    norm = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    norm = "\n".join(line.rstrip() for line in norm.split("\n")).strip("\n")
    return {doc_id_for(text), doc_id_for(norm)}


def _text_item(tok, eos_id: int, text: str, seq_len: int) -> EvalItem:
    enc = tok.encode(text, add_special_tokens=False)
    ids, n_bytes = enc.ids, len(text.encode("utf-8"))
    if len(ids) > seq_len:  # keep one context window; count the bytes of the kept tokens only
        ids, n_bytes = ids[:seq_len], len(text[:enc.offsets[seq_len - 1][1]].encode("utf-8"))
    return EvalItem(Scored(tuple([eos_id] + ids), 1, n_bytes))


def _choice_item(tok, eos_id: int, cfg, context: str, choices: list[str], label: int, seq_len: int) -> EvalItem:
    """Context + each choice; scored on the choice (endings) or on the shared continuation (contexts)."""
    # The prefix joins the context except its trailing spaces, which start the scored target (byte-level
    # BPE attaches a space to the next word), so a shared "Answer:" is never scored as part of a choice.
    lead = cfg.choice_prefix.rstrip(" ")
    space = cfg.choice_prefix[len(lead):]
    pairs = ([(context + lead, space + c) for c in choices] if cfg.choices_are == "endings"
             else [(c + lead, space + context) for c in choices])
    scored = []
    for ctx, target in pairs:
        ctx_ids = [eos_id] + tok.encode(ctx, add_special_tokens=False).ids
        target_ids = tok.encode(target, add_special_tokens=False).ids[:seq_len // 2]
        ctx_ids = ctx_ids[-(seq_len + 1 - len(target_ids)):]
        scored.append(Scored(tuple(ctx_ids + target_ids), len(ctx_ids), len(target.encode("utf-8"))))
    return EvalItem(scored[label], tuple(scored), label)


def load_eval_set(config, cfg, tok, info: TokenizerInfo, train_ids: set[str]) -> tuple[list[tuple[str, EvalItem]], int]:
    """Tokenize one evaluation set: (its full text, item) pairs, and how many items were dropped as
    training documents (same doc_id)."""
    path = Path(cfg.path)
    seq_len = config.proxy.model.seq_len
    items, overlapping = [], 0
    for line_no, row in _read_rows(path, cfg.max_items):
        where = f"{path}:{line_no}"
        text = _text(row, cfg.text_field, where)
        if cfg.format == "text":
            full, item = text, None
        else:
            choices = _choices(row, cfg.choices_field, where)
            label = _get(row, cfg.label_field, where)
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(choices):
                raise InputError(f"{where}: {cfg.label_field}={label!r} is not an index into {len(choices)} choices")
            full = (text + cfg.choice_prefix + choices[label] if cfg.choices_are == "endings"
                    else choices[label] + cfg.choice_prefix + text)
            item = _choice_item(tok, info.eos_id, cfg, text, choices, label, seq_len)
            if not cfg.accuracy:  # score only the gold continuation
                item = EvalItem(item.text)
        if normalised_ids(full) & train_ids:
            if config.sweep.eval_overlap == "error":
                raise InputError(f"{where}: evaluation item is also a training document (same doc_id); "
                                 "remove it or set sweep.eval_overlap: drop")
            overlapping += 1
            continue
        items.append((full, item or _text_item(tok, info.eos_id, text, seq_len)))
    return items, overlapping


def build_eval_sets(config, info: TokenizerInfo, train_ids: set[str], train_shards: list[Path] = ()) -> list[EvalSet]:
    """Every configured evaluation set, tokenized and decontaminated: items found among the training
    docs are dropped (or raise, with sweep.eval_overlap: error), then items sharing a
    ``sweep.decontam_ngram``-word n-gram with a document of ``train_shards`` (one streaming pass)."""
    if not config.sweep.eval:
        raise StageError("sweep.eval lists no evaluation sets; the sweep needs at least one to score proxies")
    tok, _ = load_tokenizer(config)
    loaded, by_id = [], []
    for cfg in config.sweep.eval:
        pairs, overlapping = load_eval_set(config, cfg, tok, info, train_ids)
        if overlapping:
            print(f"[sweep] {cfg.path}: dropped {overlapping} evaluation items that are also training documents")
        loaded.append(pairs)
        by_id.append(overlapping)
    n = config.sweep.decontam_ngram
    flat = [full for pairs in loaded for full, _ in pairs]
    hit = contaminated(flat, shard_texts(list(train_shards)), n) if n and train_shards else set()
    sets, offset = [], 0
    for cfg, pairs, overlapping in zip(config.sweep.eval, loaded, by_id):
        kept = [item for i, (_, item) in enumerate(pairs) if offset + i not in hit]
        dropped = len(pairs) - len(kept)
        offset += len(pairs)
        if n and train_shards:
            print(f"[sweep] {cfg.path}: {n}-gram decontamination dropped {dropped} of {len(pairs)} items")
        if not kept:
            raise InputError(f"{cfg.path}: no evaluation items left (read {cfg.max_items} at most; {overlapping} "
                             f"were training documents, {dropped} shared a {n}-gram with one)")
        sets.append(EvalSet(cfg.group, Path(cfg.path).name, tuple(kept)))
    return sets
