"""Signal study on the real run: which groups do the proxies rank, and what raises the signal?

The rank ratio (automixer.sweep.signal) is the spread of a metric across mixtures over the seed-to-seed
spread of repeated mixtures (the common seed offset removed); below ~5 the proxies mostly rank noise.
This script measures it on a finished `make real` workdir (configs/real-cpu.yaml) and what changes it:

1. swarm: the sweep's own rank ratio per group, on bpb and loss;
2. sources: Spearman correlation, over the swarm, between each component's weight and each group's bpb
   (negative: more of that component, lower bpb): which sources carry commonsense-like text;
3. rescore: the saved proxies (sweep.save_weights) of the seed pairs and --models other mixtures scored
   per evaluation set, item by item, so one pass gives the rank ratio per set, per eval-set size (first
   25%, 50%, 100% of the items), and gold-continuation bpb against multiple-choice accuracy;
4. train (--train): proxies of the first --train-mixtures paired mixtures trained again with 2 seeds at
   2x the tokens, and at 2x the width, to set proxy width against tokens.

Results go to <workdir>/signal_study.json and stdout.
    .venv/bin/python benchmarks/real_signal_study.py [configs/real-cpu.yaml] [--models 18] [--train]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from automixer.config import load_config  # noqa: E402
from automixer.flows.sweep import prepare  # noqa: E402
from automixer.mixing.columns import METRIC, MIX  # noqa: E402
from automixer.sweep.components import build_components, pool_shards  # noqa: E402
from automixer.sweep.eval_sets import build_eval_sets  # noqa: E402
from automixer.sweep.signal import signal_table  # noqa: E402
from proxies.evaluate import sequence_losses  # noqa: E402
from proxies.model import ProxyModel  # noqa: E402
from proxies.train import train_proxy  # noqa: E402


def rank_ratio(base: dict[str, float], pairs: list[tuple[float, float]]) -> float | None:
    """Spread over mixtures / seed spread with the mean pair offset removed (as signal_table)."""
    across = np.array(list(base.values()))
    diffs = np.array([a - b for a, b in pairs])
    if len(across) < 2 or len(diffs) < 2:
        return None
    seed_sd = diffs.std(ddof=1) / np.sqrt(2)
    return round(float(across.std(ddof=1) / seed_sd), 2) if seed_sd > 0 else float("inf")


def swarm_signal(runs) -> dict:
    return {r["metric"][len(METRIC):]: {"rank_ratio": r["rank_ratio"], "ratio": r["ratio"], "mixtures": r["mixtures"],
                                        "seed_pairs": r["seed_pairs"]}
            for r in signal_table(runs)}


def source_correlations(runs) -> dict:
    rows = [r for r in runs.to_pylist() if r["status"] == "ok" and r["tag"] == "sweep"]
    mixes = [c for c in runs.column_names if c.startswith(MIX)]
    out = {}
    for m in (c for c in runs.column_names if c.startswith(METRIC) and c.endswith("_bpb")):
        y = np.array([r[m] for r in rows])
        out[m[len(METRIC):]] = {c[len(MIX):]: round(float(spearmanr([r[c] for r in rows], y).statistic), 3)
                                for c in mixes}
    return out


# ---- per-item rescoring of saved proxies ------------------------------------------------------------

def per_set_eval_sets(config, info, train_ids, shards):
    """Each configured set as its own group (named after its file), multiple choice with accuracy on."""
    evals = tuple(dataclasses.replace(e, group=Path(e.path).name.split(".")[0], accuracy=True)
                  for e in config.sweep.eval)
    cfg = dataclasses.replace(config, sweep=dataclasses.replace(config.sweep, eval=evals))
    return build_eval_sets(cfg, info, train_ids, shards)


def item_scores(model, es, seq_len: int) -> dict[str, np.ndarray]:
    """Per item: nats and bytes of the gold span; 1/0 correct when it has choices."""
    texts = [it.text for it in es.items]
    nats = np.array(sequence_losses(model, texts, batch_size=64, device="cpu"))
    scored = [max(0, min(len(s.ids) - s.start, seq_len)) for s in texts]
    n_bytes = np.array([s.n_bytes * k / max(len(s.ids) - s.start, 1) for s, k in zip(texts, scored)])
    out = {"nats": nats, "bytes": n_bytes}
    mc = [it for it in es.items if it.choices]
    if mc:
        flat = [c for it in mc for c in it.choices]
        losses = sequence_losses(model, flat, batch_size=64, device="cpu")
        correct, pos = [], 0
        for it in mc:
            per_byte = [losses[pos + j] / max(c.n_bytes, 1) for j, c in enumerate(it.choices)]
            pos += len(it.choices)
            correct.append(int(int(np.argmin(per_byte)) == it.label))
        out["correct"] = np.array(correct)
    return out


def load_proxy(config, run_dir: Path, vocab_size: int) -> ProxyModel:
    model = ProxyModel(config.proxy.model, vocab_size)
    model.load_state_dict(torch.load(run_dir / "model.pt", map_location="cpu"))
    return model.eval()


def rescore(config, runs, n_models: int) -> dict:
    torch.set_num_threads(1)
    _, info, train_ids = build_components(config)
    sets = per_set_eval_sets(config, info, train_ids, pool_shards(config.workdir_path))
    ok = {r["run_id"]: r for r in runs.to_pylist() if r["status"] == "ok"}
    pairs = [(r["repeat_of"], r["run_id"]) for r in ok.values() if r["tag"] == "seed_repeat" and r["repeat_of"] in ok]
    paired = {a for a, _ in pairs}
    others = [k for k, r in ok.items() if r["tag"] == "sweep" and k not in paired][:n_models]
    chosen = sorted(paired) + others + [b for _, b in pairs]
    proxies_dir = config.workdir_path / "sweep" / "proxies"
    scores: dict[str, dict[str, dict]] = {}
    started = time.time()
    for i, run_id in enumerate(chosen):
        model = load_proxy(config, proxies_dir / run_id, info.vocab_size)
        with torch.no_grad():
            scores[run_id] = {es.group: item_scores(model, es, config.proxy.model.seq_len) for es in sets}
        print(f"  rescored {i + 1}/{len(chosen)} {run_id} ({time.time() - started:.0f} s)", flush=True)
    base_ids = sorted(paired) + others
    result = {}
    for es in sets:
        n = len(es.items)
        for share in (0.25, 0.5, 1.0):
            k = max(1, int(n * share))

            def bpb(run_id, k=k, name=es.group):
                s = scores[run_id][name]
                return float(s["nats"][:k].sum() / np.log(2) / s["bytes"][:k].sum())
            by_run = {r: bpb(r) for r in base_ids}
            result[f"{es.group}_bpb@{k}"] = rank_ratio(by_run, [(bpb(a), bpb(b)) for a, b in pairs])
        if "correct" in scores[base_ids[0]][es.group]:

            def acc(run_id, name=es.group):
                return float(scores[run_id][name]["correct"].mean())

            result[f"{es.group}_acc@{n}"] = rank_ratio(
                {r: acc(r) for r in base_ids}, [(acc(a), acc(b)) for a, b in pairs]
            )
    return {"models": len(chosen), "mixtures": len(base_ids), "seed_pairs": len(pairs), "rank_ratio": result}


# ---- retraining at 2x tokens / 2x width --------------------------------------------------------------


def retrain(config, runs, n_mixtures: int) -> dict:
    recipe = prepare(config)
    files = {r["component"]: r["token_file"] for r in recipe.components}
    ok = [r for r in runs.to_pylist() if r["status"] == "ok" and r["tag"] == "seed_repeat"][:n_mixtures]
    rows = {r["run_id"]: r for r in runs.to_pylist()}
    mixes = {
        r["repeat_of"]: {c[len(MIX) :]: rows[r["repeat_of"]][c] for c in runs.column_names if c.startswith(MIX)}
        for r in ok
    }
    p, m = config.proxy, config.proxy.model
    variants = {
        "2x_tokens": dataclasses.replace(p, train=dataclasses.replace(p.train, steps=2 * p.train.steps)),
        "2x_width": dataclasses.replace(
            p, model=dataclasses.replace(m, d_model=2 * m.d_model, expert_hidden=2 * m.expert_hidden)
        ),
    }
    groups = sorted(
        {k[len(METRIC) : -len("_bpb")] for k in runs.column_names if k.startswith(METRIC) and k.endswith("_bpb")}
    )
    base = {
        g: rank_ratio(
            {mid: rows[mid][f"{METRIC}{g}_bpb"] for mid in mixes},
            [(rows[r["repeat_of"]][f"{METRIC}{g}_bpb"], r[f"{METRIC}{g}_bpb"]) for r in ok],
        )
        for g in groups
    }
    out = {"mixtures": list(mixes), "base": base}
    for name, proxy in variants.items():
        metrics = {}
        for mid, mix in mixes.items():
            for seed in (config.seed, config.seed + 1):
                comps = {c: (w, files[c]) for c, w in mix.items() if w > 0}
                res = train_proxy(proxy, comps, recipe.eval_sets, seed=seed, vocab_size=recipe.vocab_size)
                metrics[(mid, seed)] = res["metrics"]
                print(f"  {name} {mid} seed {seed}: params {res['n_params']}, {res['wall_s']:.0f} s", flush=True)
        out[name] = {
            g: rank_ratio(
                {mid: metrics[(mid, config.seed)][f"{g}_bpb"] for mid in mixes},
                [
                    (metrics[(mid, config.seed)][f"{g}_bpb"], metrics[(mid, config.seed + 1)][f"{g}_bpb"])
                    for mid in mixes
                ],
            )
            for g in groups
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="?", default="configs/real-cpu.yaml")
    ap.add_argument("--models", type=int, default=18, help="unpaired sweep proxies rescored beside the seed pairs")
    ap.add_argument("--skip-rescore", action="store_true")
    ap.add_argument("--train", action="store_true", help="also retrain paired mixtures at 2x tokens and 2x width")
    ap.add_argument("--train-mixtures", type=int, default=3)
    args = ap.parse_args()
    config = load_config(args.config)
    runs = pq.read_table(config.workdir_path / "sweep" / "runs.parquet")
    out_path = config.workdir_path / "signal_study.json"
    study = {}
    study["swarm"] = swarm_signal(runs)
    study["sources"] = source_correlations(runs)
    print("swarm rank ratio:", json.dumps({k: v["rank_ratio"] for k, v in study["swarm"].items()}))
    for metric, corr in study["sources"].items():
        print(f"  {metric}: " + ", ".join(f"{c} {v:+.2f}" for c, v in sorted(corr.items(), key=lambda kv: kv[1])))
    if not args.skip_rescore:
        study["rescore"] = rescore(config, runs, args.models)
        print("rescore rank ratio:", json.dumps(study["rescore"], indent=1))
    if args.train:
        study["train"] = retrain(config, runs, args.train_mixtures)
        print("retrain rank ratio:", json.dumps(study["train"], indent=1))
    merged = json.loads(out_path.read_text()) if out_path.exists() else {}  # keep sections of other runs
    out_path.write_text(json.dumps({**merged, **study}, indent=1))
    print(f"-> {out_path}")


if __name__ == "__main__":
    main()
