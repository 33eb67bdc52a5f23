"""Mixtures of Data Experts (MDE; Belenki et al., ACL 2025): any mixture's score estimated from one expert per
component, with no training.

Shape legend: T scored tokens of an evaluation set, E experts (one per component, in the weight columns'
order), M mixtures, I items.

An expert is a proxy trained on one component alone. It stores the log-probability it gives each token an
evaluation set scores (``proxies.evaluate.token_logprobs``). For a mixture lambda, the model trained on it is
approximated token by token by ``p_lambda = sum_e lambda_e p_e``. The estimate of an evaluation set's (or a
group's) bits per byte is then computed exactly as ``proxies.evaluate.evaluate`` computes the measured one:
nats summed over every scored token of the group's sets, over their bytes (``<group>_bpb``) or their tokens
(``<group>_loss``).

On-disk layout (``<workdir>/experts/``, written by the sweep):

    index.json                     the scored tokens: per evaluation set its name, group, file stem and, per
                                   item, the tokens scored and the bytes they cover (written first)
    <component>/<stem>.npy         float16 (T,): ln p of each scored token, items in order (float16 log-
                                   probabilities keep tokens far below float16's smallest probability)
    <component>/expert.json        the expert's run (run id, tokens seen, epochs, bytes on disk); written last,
                                   so a folder without it is an unfinished expert and is never read
    manifest.json                  every finished expert and the bytes of the whole folder (a summary)
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dataplane.errors import InputError
from dataplane.store import atomic_path, atomic_write_text

EXPERTS = "experts"
"""The experts' folder in a workdir."""
INDEX = "index.json"
EXPERT = "expert.json"
MANIFEST = "manifest.json"
BLOCK_TOKENS, BLOCK_MIXTURES = 2048, 256
"""Block of the estimate: 2 MB of float32 stays in cache (several times faster than one whole matmul + log;
benchmarks/bench_mde.py)."""
MEASURES = ("bpb", "loss")


@dataclass(frozen=True)
class SetIndex:
    """The scored tokens of one evaluation set (the same for every expert of a sweep)."""

    name: str
    """The set's name (its file name), for messages."""
    group: str
    """Capability group it counts towards."""
    stem: str
    """File stem of its arrays under each expert's folder."""
    item_tokens: tuple[int, ...]
    """Tokens scored per item (their log-probabilities are stored in item order)."""
    item_bytes: tuple[float, ...]
    """UTF-8 bytes those tokens cover per item (as ``proxies.evaluate.evaluate`` counts them)."""

    @property
    def num_tokens(self) -> int:
        return int(sum(self.item_tokens))


def set_stem(position: int, name: str) -> str:
    """A file stem unique within a sweep: the set's position and its name made file-safe."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return f"{position:02d}_{safe}"


def write_index(root: Path, sets: list[SetIndex]) -> Path:
    """``index.json``: what every expert of this sweep scores."""
    root.mkdir(parents=True, exist_ok=True)
    data = {"sets": [asdict(s) for s in sets]}
    return atomic_write_text(root / INDEX, json.dumps(data))


def write_expert(root: Path, component: str, logprobs: list[np.ndarray], info: dict) -> dict:
    """One expert's arrays (in ``index.json`` order) then its ``expert.json``; returns that record."""
    sets = read_index(root)
    if len(logprobs) != len(sets):
        raise ValueError(f"{component}: {len(logprobs)} arrays for {len(sets)} evaluation sets")
    folder = root / component
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for s, lp in zip(sets, logprobs):
        lp = np.asarray(lp, dtype=np.float16)
        if lp.shape != (s.num_tokens,):
            raise ValueError(f"{component}/{s.stem}: {lp.shape} log-probabilities for {s.num_tokens} scored tokens")
        with atomic_path(folder / f"{s.stem}.npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, lp, allow_pickle=False)
        size += (folder / f"{s.stem}.npy").stat().st_size
    record = {**info, "component": component, "bytes": size}
    atomic_write_text(folder / EXPERT, json.dumps(record, sort_keys=True))
    return record


def write_manifest(root: Path) -> dict:
    """``manifest.json``: every finished expert's record and the folder's total bytes; returns it."""
    experts = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.glob(f"*/{EXPERT}"))]
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {"experts": experts, "bytes": total, "sets": [s.name for s in read_index(root)]}
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def read_index(root: Path) -> list[SetIndex]:
    path = Path(root) / INDEX
    if not path.exists():
        raise InputError(f"{path}: not found; expert probabilities are written by automixer sweep")
    try:
        sets = json.loads(path.read_text(encoding="utf-8"))["sets"]
        return [SetIndex(s["name"], s["group"], s["stem"], tuple(s["item_tokens"]), tuple(s["item_bytes"]))
                for s in sets]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not an expert index ({exc})") from None


def finished_experts(root: Path | str) -> list[str]:
    """Components whose expert finished (``expert.json`` present), sorted; [] when there is no index."""
    root = Path(root)
    if not (root / INDEX).exists():
        return []
    return sorted(p.parent.name for p in root.glob(f"*/{EXPERT}"))


def fingerprint(root: Path | str, components: list[str]) -> str:
    """A hash of the index and of the experts' records: it changes when an expert is trained again."""
    root = Path(root)
    digest = hashlib.sha256((root / INDEX).read_bytes())
    for c in components:
        path = root / c / EXPERT
        digest.update(c.encode() + (path.read_bytes() if path.exists() else b""))
    return digest.hexdigest()[:16]


class ExpertStore:
    """The stored log-probabilities of a sweep's experts, as probabilities (float32) per evaluation set."""

    def __init__(self, root: Path | str, components: list[str]):
        """Read the experts of ``components`` (in that order: the columns of the weights); InputError naming
        the file if one is missing or does not match the index."""
        self.root = Path(root)
        self.components = list(components)
        self.sets = read_index(self.root)
        missing = [c for c in self.components if not (self.root / c / EXPERT).exists()]
        if missing:
            raise InputError(f"{self.root / missing[0]}: no finished expert for component {missing[0]!r} "
                             f"(experts found: {', '.join(finished_experts(self.root)) or 'none'})")
        self.probs = [self._load(s) for s in self.sets]
        self.fingerprint = fingerprint(self.root, self.components)

    def _load(self, s: SetIndex) -> np.ndarray:
        cols = []
        for c in self.components:
            path = self.root / c / f"{s.stem}.npy"
            if not path.exists():
                raise InputError(f"{path}: missing; the expert of {c!r} is incomplete (re-run automixer sweep)")
            lp = np.load(path, allow_pickle=False)
            if lp.shape != (s.num_tokens,):
                raise InputError(f"{path}: {lp.shape[0] if lp.ndim == 1 else lp.shape} values, "
                                 f"{INDEX} says {s.num_tokens} scored tokens")
            cols.append(np.exp(lp.astype(np.float32)))
        return np.column_stack(cols) if cols else np.zeros((s.num_tokens, 0), np.float32)

    def groups(self) -> list[str]:
        return sorted({s.group for s in self.sets})


def mixture_nats(probs_TE: np.ndarray, lam_EM: np.ndarray) -> np.ndarray:
    """Nats summed over the T tokens of ``-ln(probs_TE @ lam_EM)`` for each of M mixtures (float64).

    Blocked (``BLOCK_MIXTURES`` x ``BLOCK_TOKENS`` in one reused float32 buffer, so it stays in cache and
    nothing large is allocated); float32 within a block, float64 across blocks."""
    T, M = probs_TE.shape[0], lam_EM.shape[1]
    lam_EM = np.asarray(lam_EM, dtype=np.float32)
    out = np.zeros(M, dtype=np.float64)
    buf = np.empty((min(T, BLOCK_TOKENS), min(M, BLOCK_MIXTURES)), dtype=np.float32)
    tiny = np.float32(np.finfo(np.float32).tiny)
    for j in range(0, M, BLOCK_MIXTURES):
        lam = np.ascontiguousarray(lam_EM[:, j:j + BLOCK_MIXTURES])
        for i in range(0, T, BLOCK_TOKENS):
            block = probs_TE[i:i + BLOCK_TOKENS]
            q = buf[:len(block), :lam.shape[1]]
            np.matmul(block, lam, out=q)
            np.maximum(q, tiny, out=q)  # a mixture with no weight on any expert that knows a token
            np.log(q, out=q)
            out[j:j + BLOCK_MIXTURES] -= q.sum(axis=0)
    return out


class MDEEstimator:
    """The MDE estimate of every evaluation set and group, for many mixtures at once.

    Names: ``<group>_bpb`` and ``<group>_loss`` (as the sweep names its measured metrics), and
    ``set:<set name>_bpb`` per evaluation set.
    """

    def __init__(self, store: ExpertStore):
        self.store = store
        self.components = store.components
        self.set_tokens = [s.num_tokens for s in store.sets]
        self.set_bytes = [float(sum(s.item_bytes)) for s in store.sets]

    def names(self) -> list[str]:
        groups = [f"{g}_{m}" for g in self.store.groups() for m in MEASURES]
        return groups + [f"set:{s.name}_bpb" for s in self.store.sets]

    def estimate(self, X_MC: np.ndarray, names: list[str] | None = None) -> dict[str, np.ndarray]:
        """name -> estimate per mixture (rows of ``X_MC`` are weights over ``components``; rescaled to sum 1)."""
        X = np.atleast_2d(np.asarray(X_MC, dtype=np.float64))
        if X.shape[1] != len(self.components):
            raise ValueError(f"mixtures have {X.shape[1]} weights, the experts are {len(self.components)} components")
        lam_EM = (X / np.clip(X.sum(1, keepdims=True), 1e-12, None)).T
        wanted = names or self.names()
        unknown = [n for n in wanted if n not in self.names()]
        if unknown:
            raise ValueError(f"no MDE estimate {unknown[0]!r}; the experts give {', '.join(self.names())}")
        needed = {i for i, s in enumerate(self.store.sets)
                  if any(n in (f"set:{s.name}_bpb", f"{s.group}_bpb", f"{s.group}_loss") for n in wanted)}
        nats = {i: mixture_nats(self.store.probs[i], lam_EM) for i in sorted(needed)}
        out = {}
        for name in wanted:
            if name.startswith("set:"):
                i = next(i for i, s in enumerate(self.store.sets) if f"set:{s.name}_bpb" == name)
                out[name] = nats[i] / math.log(2) / max(self.set_bytes[i], 1.0)
                continue
            group, _, measure = name.rpartition("_")
            idx = [i for i, s in enumerate(self.store.sets) if s.group == group]
            total = sum(nats[i] for i in idx)
            if measure == "bpb":
                out[name] = total / math.log(2) / max(sum(self.set_bytes[i] for i in idx), 1.0)
            else:
                out[name] = total / max(sum(self.set_tokens[i] for i in idx), 1)
        return out

    def estimate_one(self, X_MC: np.ndarray, name: str) -> np.ndarray:
        return self.estimate(X_MC, [name])[name]


def mde_name_for(metric: str, available: list[str]) -> str | None:
    """The MDE estimate that goes with a measured metric: ``<group>_bpb`` / ``<group>_loss`` for those, the
    group's bpb for its other measures (accuracy); None when the experts score no such group."""
    name = metric.removeprefix("metric/")
    group, _, measure = name.rpartition("_")
    if name in available:
        return name
    return f"{group}_bpb" if group and f"{group}_bpb" in available else None


@lru_cache(maxsize=4)
def _cached(root: str, components: tuple[str, ...], stamp: tuple) -> MDEEstimator:
    return MDEEstimator(ExpertStore(root, list(components)))


def load_estimator(root: Path | str, components: list[str] | tuple[str, ...]) -> MDEEstimator:
    """An estimator over ``components``, cached while the expert files are unchanged (CV fits many models)."""
    root = Path(root).resolve()
    files = [root / INDEX] + [root / c / EXPERT for c in components]
    stamp = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in files)
    return _cached(str(root), tuple(components), stamp)
