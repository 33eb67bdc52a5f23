"""Data experts of the sweep (``sweep.experts``): one proxy per component, trained on that component alone with
the swarm's size and token budget, storing the log-probability of every token the evaluation sets score.

They feed the MDE estimate (automixer/mixing/mde.py, which documents the ``<workdir>/experts/`` layout). A
component with fewer tokens than the budget repeats (the proxies' stream samples windows with replacement);
its epochs are recorded. Experts are runs of the sweep's store with tag ``expert`` (run id ``expert-<component>``),
so they resume like proxies and appear in the runs table, where ``parse_runs`` leaves them out of the sampled
mixtures.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from automixer.mixing.columns import EXPERT_TAG
from automixer.mixing.mde import EXPERTS, SetIndex, read_index, set_stem, write_expert, write_index, write_manifest
from automixer.sweep.runner import Recipe, RunSpec, train_with_resume
from proxies.evaluate import EvalSet, scored_window, token_logprobs
from proxies.model import ProxyModel
from proxies.train import train_proxy


def expert_specs(config, recipe: Recipe) -> list[RunSpec]:
    """One run per component, all of its weight on that component, with the sweep's seed."""
    return [RunSpec(f"{EXPERT_TAG}-{r['component']}", {r["component"]: 1.0}, config.seed, EXPERT_TAG)
            for r in recipe.components]


def eval_index(eval_sets: list[EvalSet], seq_len: int) -> list[SetIndex]:
    """What the experts score: per set, the tokens and bytes ``proxies.evaluate.evaluate`` counts per item."""
    out = []
    for i, es in enumerate(eval_sets):
        windows = [scored_window(it.text, seq_len) for it in es.items]
        out.append(SetIndex(es.name, es.group, set_stem(i, es.name), tuple(t for t, _ in windows),
                            tuple(float(b) for _, b in windows)))
    return out


def train_expert(proxy_config, components, eval_sets, *, seed: int, vocab_size: int, out_dir=None) -> dict:
    """Runs in a Ray worker: ``train_proxy`` on one component, then ln p of every scored token of each set
    (float16 arrays under ``logprobs``). The weights go to ``out_dir`` (sweep.save_weights) or a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out_dir or tmp)
        result = train_proxy(proxy_config, components, eval_sets, seed=seed, vocab_size=vocab_size, out_dir=folder)
        model = ProxyModel(proxy_config.model, vocab_size)
        model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu"))
    started, batch = time.time(), proxy_config.train.eval_batch_size
    result["logprobs"] = [token_logprobs(model, es, batch_size=batch).astype(np.float16) for es in eval_sets]
    for key in ("eval_s", "wall_s"):  # the second scoring pass counts in the expert's time
        result[key] = result.get(key, 0.0) + time.time() - started
    return result


def train_experts(config, recipe: Recipe, store, *, weights_dir: Path | None = None) -> list[dict]:
    """Train the experts not finished yet (``store`` units, like proxies) and write their probabilities; return
    every expert's runs-table row. The experts' folder is emptied first if the evaluation sets changed."""
    root = config.workdir_path / EXPERTS
    index = eval_index(recipe.eval_sets, config.proxy.model.seq_len)
    if (root / "index.json").exists() and read_index(root) != index:
        shutil.rmtree(root)
    if not (root / "index.json").exists():
        write_index(root, index)
    tokens = {r["component"]: int(r["tokens"]) for r in recipe.components}

    def store_logprobs(spec: RunSpec, result: dict) -> None:
        (component,) = spec.mixture
        epochs = result["tokens_seen"] / max(tokens[component], 1)
        write_expert(root, component, result.pop("logprobs"),
                     {"run_id": spec.run_id, "seed": spec.seed, "tokens_seen": result["tokens_seen"],
                      "component_tokens": tokens[component], "epochs": round(epochs, 4)})
        if epochs > 1.005:
            print(f"[experts] {component}: its {tokens[component]:,} tokens are seen {epochs:.2f} times", flush=True)

    specs = expert_specs(config, recipe)
    rows = train_with_resume(config, recipe, store, specs, label="experts", train_fn=train_expert,
                             weights_dir=weights_dir, on_result=store_logprobs)
    manifest = write_manifest(root)
    print(f"[experts] {len(manifest['experts'])} experts, {manifest['bytes'] / 1e6:.2f} MB of token "
          f"log-probabilities over {len(index)} evaluation sets in {root}", flush=True)
    return [rows[s.run_id] for s in specs]


def reset_experts(config) -> None:
    """Remove the experts' folder (``sweep --force``)."""
    shutil.rmtree(config.workdir_path / EXPERTS, ignore_errors=True)
