"""Scoring a proxy on held-out evaluation sets, per capability group.

An evaluation set is already tokenized (automixer builds them with the curation tokenizer). Every
item has a ``text`` span: the whole text for plain sets, the context plus the right answer for
multiple-choice sets. Per group we report:
- ``<group>_loss``: mean next-token loss (nats per scored token) over the scored spans;
- ``<group>_bpb``: bits per UTF-8 byte of the same spans (comparable across tokenizers);
- ``<group>_acc``: multiple-choice accuracy, where the group has items with choices: the predicted
  choice is the one with the lowest loss per byte of the choice (length-normalised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

MEASURE_HIGHER_IS_BETTER = {"loss": False, "bpb": False, "acc": True}
"""Direction of every measure ``evaluate`` reports (``<group>_<measure>``): True where higher is better.
A new measure must be added here; the sweep records these directions in the runs table and catalog."""


@dataclass(frozen=True)
class Scored:
    """Token ids of a sequence and the part of it that is scored."""

    ids: tuple[int, ...]
    """Token ids (the first one is only context: it is never predicted)."""
    start: int
    """Index of the first scored token (>= 1)."""
    n_bytes: int
    """UTF-8 bytes of the scored tokens."""


@dataclass(frozen=True)
class EvalItem:
    text: Scored
    """The span scored for loss and bits per byte."""
    choices: tuple[Scored, ...] = ()
    """Context + each choice, scored on the choice (multiple choice only)."""
    label: int = -1
    """Index of the right choice (-1 when there are no choices)."""


@dataclass(frozen=True)
class EvalSet:
    group: str
    """Capability group (code, math, stem, commonsense, ...)."""
    name: str
    """Where the items came from (file name), for messages."""
    items: tuple[EvalItem, ...] = field(default_factory=tuple)


def eval_set_from_dict(data: dict) -> EvalSet:
    """Inverse of dataclasses.asdict for an EvalSet (JSON round trip)."""
    def scored(d):
        return Scored(tuple(d["ids"]), d["start"], d["n_bytes"])

    items = tuple(
        EvalItem(scored(it["text"]), tuple(scored(c) for c in it.get("choices", ())), it.get("label", -1))
        for it in data["items"]
    )
    return EvalSet(data["group"], data["name"], items)


@torch.no_grad()
def _scored_nll(model, seqs: list[Scored], *, batch_size: int, device):
    """Yield (sequence index, nats of each scored token) for every sequence, batch by batch."""
    seq_len = model.cfg.seq_len
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i].ids))  # similar lengths share a batch
    for b in range(0, len(order), batch_size):
        chunk = [seqs[i] for i in order[b:b + batch_size]]
        width = min(max(len(s.ids) for s in chunk), seq_len + 1)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        weight = torch.zeros(len(chunk), width - 1)
        for r, s in enumerate(chunk):
            row = s.ids[-width:]  # keep the end (the scored part) if longer than the context window
            shift = len(s.ids) - len(row)
            ids[r, :len(row)] = torch.tensor(row)
            weight[r, max(s.start - shift, 1) - 1:len(row) - 1] = 1.0
        ids, weight = ids.to(device), weight.to(device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=ids.is_cuda):
            nll_BT = _token_nll(model, ids)
        for r in range(len(chunk)):
            yield order[b + r], nll_BT[r][weight[r] > 0]


def _token_nll(model, ids_BT: torch.Tensor) -> torch.Tensor:
    """Next-token loss at every position: the model's own (chunked, proxies/model.py) where it has one."""
    if hasattr(model, "token_nll"):
        return model.token_nll(ids_BT[:, :-1], ids_BT[:, 1:]).float()
    logits_BTV, _ = model(ids_BT[:, :-1])
    # (B*T, V) rows: the class-dim-second layout of a transposed (B, V, T) view is ~10x slower on CPU
    B, T, V = logits_BTV.shape
    return F.cross_entropy(logits_BTV.float().reshape(B * T, V), ids_BT[:, 1:].reshape(-1), reduction="none").view(B, T)


def sequence_losses(model, seqs: list[Scored], *, batch_size: int, device) -> list[float]:
    """Summed loss (nats) over the scored tokens of each sequence, in input order."""
    out = [0.0] * len(seqs)
    for i, nll_T in _scored_nll(model, seqs, batch_size=batch_size, device=device):
        out[i] = float(nll_T.sum())
    return out


def token_logprobs(model, eval_set: EvalSet, *, batch_size: int = 32, device="cpu") -> np.ndarray:
    """ln p of every token ``evaluate`` scores in the set's gold spans (``item.text``), items in order, as
    float32 (T,): what a data expert stores for the MDE estimate (automixer/mixing/mde.py)."""
    was_training = model.training
    model.eval()
    texts = [it.text for it in eval_set.items]
    per_item: list = [None] * len(texts)
    for i, nll_T in _scored_nll(model, texts, batch_size=batch_size, device=device):
        per_item[i] = (-nll_T).cpu().numpy()
    model.train(was_training)
    return np.concatenate(per_item).astype(np.float32) if per_item else np.zeros(0, np.float32)


def scored_window(s: Scored, seq_len: int) -> tuple[int, float]:
    """Tokens ``evaluate`` scores of a span and the bytes they cover (the whole span unless it is longer
    than the context window)."""
    n_tok = _scored_tokens(s, seq_len)
    return n_tok, s.n_bytes * n_tok / max(len(s.ids) - s.start, 1)


def _scored_tokens(s: Scored, seq_len: int) -> int:
    """Tokens actually scored (the window keeps at most seq_len predictions)."""
    return max(0, min(len(s.ids) - s.start, seq_len))


def evaluate(model, eval_sets: list[EvalSet], *, batch_size: int = 32, device="cpu") -> dict[str, float]:
    """Per group: ``<group>_loss``, ``<group>_bpb`` and ``<group>_acc`` (where items have choices)."""
    was_training = model.training
    model.eval()
    totals: dict[str, list[float]] = {}  # group -> [nats, tokens, bytes, correct, choice items]
    seq_len = model.cfg.seq_len
    for es in eval_sets:
        acc = totals.setdefault(es.group, [0.0, 0, 0, 0, 0])
        texts = [it.text for it in es.items]
        for s, nats in zip(texts, sequence_losses(model, texts, batch_size=batch_size, device=device)):
            n_tok, n_bytes = scored_window(s, seq_len)
            acc[0] += nats
            acc[1] += n_tok
            acc[2] += n_bytes
        mc = [it for it in es.items if it.choices]
        flat = [c for it in mc for c in it.choices]
        losses = sequence_losses(model, flat, batch_size=batch_size, device=device) if flat else []
        pos = 0
        for it in mc:
            per_byte = [losses[pos + j] / max(c.n_bytes, 1) for j, c in enumerate(it.choices)]
            pos += len(it.choices)
            acc[3] += int(min(range(len(per_byte)), key=per_byte.__getitem__) == it.label)
            acc[4] += 1
    model.train(was_training)
    metrics: dict[str, float] = {}
    for group, (nats, n_tok, n_bytes, correct, n_mc) in sorted(totals.items()):
        metrics[f"{group}_loss"] = nats / max(n_tok, 1)
        metrics[f"{group}_bpb"] = nats / math.log(2) / max(n_bytes, 1)
        if n_mc:
            metrics[f"{group}_acc"] = correct / n_mc
    return metrics
