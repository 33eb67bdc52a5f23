"""``automixer export``: the mixture's components tokenised with the full run's tokenizer, as Megatron-Core data.

Each component of the mixture (weight > 0) is cut into units, one per pool shard it is drawn from
(the mixture's ``shards``: path + SQL filter). A unit runs as a task (automixer.export.megatron) and
writes one indexed dataset ``<out>/<component>/<NNNNN>_<shard>.bin/.idx``, so the driver never holds
a text. Then the driver converts the proxy-token shares into the full run's token shares, checks
``optimize.max_epochs`` and writes ``<out>/megatron_blend.txt`` (the ``--data-path`` pairs) and
``<out>/export_manifest.json`` (both token counts and the conversion per component).

Resumable: finished units are skipped; ``<out>/_plan.json`` holds the inputs' fingerprint, and a
changed mixture, tokenizer or pool needs ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from automixer.export.blend import check_epochs, full_shares, megatron_blend, prefix_weights
from automixer.export.megatron import export_unit
from automixer.export.tokenizer import load_full_tokenizer
from automixer.mixing.mixture import Mixture
from automixer.mixing.runs_table import read_components
from automixer.stage_run import stage_run
from dataplane.errors import InputError, StageError
from dataplane.store import atomic_write_text, unit_name
from dedup.chain import MapTasks, in_process

FORMATS = ("megatron",)


def _units(mixture: Mixture, out: Path, tokenizer: str, where: str) -> dict[str, list[dict]]:
    """component -> its task calls (one per shard), for every component with a positive weight."""
    units = {}
    for c, w in mixture.weights.items():
        if w <= 0:
            continue
        if not mixture.shards.get(c):
            raise InputError(f"{where}: mixture.{c}: no shards (write the mixture with `automixer optimize`)")
        units[c] = [{"shard": s["path"], "where": s["filter"], "tokenizer": tokenizer,
                     "prefix": str(out / unit_name(c) / f"{i:05d}_{unit_name(Path(s['path']).stem)}")}
                    for i, s in enumerate(mixture.shards[c])]
    return units


def _fingerprint(mixture_file: Path, tokenizer_sha: str, units: dict[str, list[dict]]) -> str:
    h = hashlib.sha256(mixture_file.read_bytes() + tokenizer_sha.encode())
    for call in (u for calls in units.values() for u in calls):
        path = Path(call["shard"])
        if not path.exists():
            raise InputError(f"{mixture_file}: shard {path} not found (was the pool rebuilt? run optimize again)")
        st = path.stat()
        h.update(f"{path}|{st.st_size}|{st.st_mtime_ns}|{call['where']}\n".encode())
    return h.hexdigest()[:16]


def _check_plan(out: Path, fingerprint: str, force: bool) -> None:
    """Start fresh with --force; refuse to mix finished units of other inputs into this export."""
    plan = out / "_plan.json"
    if force and out.exists():
        shutil.rmtree(out)
    if plan.exists() and json.loads(plan.read_text())["fingerprint"] != fingerprint:
        raise StageError(f"{out}: holds an export of another mixture, tokenizer or pool; use --force or another --out")
    for stale in out.rglob(".*.tmp*"):  # a killed unit's half-written files
        stale.unlink()
    atomic_write_text(plan, json.dumps({"fingerprint": fingerprint}))


def _proxy_tokens(mixture: Mixture, info: dict, components: list[str], where: str) -> dict[str, int]:
    tokens = {c: int(mixture.available_tokens.get(c) or info.get(c, {}).get("tokens") or 0) for c in components}
    missing = [c for c, t in tokens.items() if not t]
    if missing:
        raise InputError(f"{where}: mixture.{missing[0]}: proxy token count unknown (no available_tokens, "
                         "no components table); write the mixture with `automixer optimize`")
    return tokens


def _check_docs(units: dict[str, list[dict]], counts: dict[str, dict], info: dict, where: str) -> None:
    """The proxy counts hold only for the documents the sweep tokenised: the shards must still hold them."""
    for c, calls in units.items():
        docs, expected = sum(counts[u["prefix"]]["docs"] for u in calls), info.get(c, {}).get("docs")
        if expected is not None and docs != expected:
            raise StageError(f"{where}: mixture.{c}: the pool now holds {docs} documents of it, the sweep's "
                             f"components {expected}; run the sweep and optimize again on this pool")


def run_export(config, *, mixture_file, tokenizer, out_dir, fmt: str = "megatron", force: bool = False,
               map_tasks: MapTasks = in_process) -> str:
    """Tokenise the mixture's components with ``tokenizer`` into ``out_dir``; write the blend and manifest."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt}: not supported, expected one of {', '.join(FORMATS)}")
    mixture_file, out = Path(mixture_file), Path(out_dir).resolve()
    mixture = Mixture.load(mixture_file)
    tok = load_full_tokenizer(str(Path(tokenizer).resolve()))
    units = _units(mixture, out, tok.path, str(mixture_file))
    info = read_components(config.workdir_path)
    proxy = _proxy_tokens(mixture, info, list(units), str(mixture_file))
    _check_plan(out, _fingerprint(mixture_file, tok.sha256, units), force)
    with stage_run(config, "export") as detail:
        calls = [call for c in units for call in units[c]]
        print(f"export: {len(units)} components, {len(calls)} units -> {out}")
        counts = dict(zip((call["prefix"] for call in calls), map_tasks(export_unit, calls)))
        full = {c: sum(counts[u["prefix"]]["tokens"] for u in units[c]) for c in units}
        _check_docs(units, counts, info, str(mixture_file))
        shares = full_shares({c: mixture.weights[c] for c in units}, proxy, full)
        budget = mixture.token_budget
        epochs = check_epochs(shares, full, budget, config.optimize.max_epochs, str(mixture_file))
        pairs = prefix_weights(shares, {c: [(u["prefix"], counts[u["prefix"]]["tokens"]) for u in units[c]]
                                        for c in units})
        blend = atomic_write_text(out / "megatron_blend.txt", megatron_blend(pairs))
        manifest = _manifest(mixture, tok, units, counts, proxy, full, shares, epochs, str(mixture_file.resolve()))
        atomic_write_text(out / "export_manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
        detail.update({"components": len(units), "units": len(calls), "tokens": sum(full.values())})
    return (f"export: {sum(full.values()):,} full-run tokens of {len(units)} components in {len(calls)} indexed "
            f"datasets -> {blend} (+ export_manifest.json)")


def _manifest(mixture, tok, units, counts, proxy, full, shares, epochs, mixture_path) -> dict:
    components = {}
    for c in units:
        components[c] = {
            "mixture_weight": mixture.weights[c], "proxy_tokens": proxy[c], "full_tokens": full[c],
            "full_per_proxy_token": full[c] / proxy[c], "full_share": shares[c],
            "docs": sum(counts[u["prefix"]]["docs"] for u in units[c]),
            "run_tokens": round(shares[c] * mixture.token_budget), "epochs": epochs[c],
            "prefixes": [{"prefix": u["prefix"], "shard": u["shard"], "filter": u["where"], **counts[u["prefix"]]}
                         for u in units[c]],
        }
    return {"format": "megatron", "mixture": mixture_path, "token_budget": mixture.token_budget,
            "tokenizer": {"path": tok.path, "sha256": tok.sha256, "eos_id": tok.eos_id, "vocab_size": tok.vocab_size},
            "conversion": "full_share_c = w_c * (full_tokens_c / proxy_tokens_c) / sum_k w_k * (full_tokens_k / "
                          "proxy_tokens_k); w = the mixture's proxy-token weights", "components": components}
