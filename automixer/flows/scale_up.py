"""The transfer check of ``optimize --validate``: do the proxies' choices hold for a larger model?

Trains models larger than the proxies (``optimize.scale_up``: at least ``min_ratio`` x the proxy's parameters
and tokens) on four mixtures (optimized, natural, uniform, best sampled), ``seeds`` seeds each, with the
sweep's components, token files and evaluation sets. Each finished run is a unit of
``StageStore(workdir, "scale_up")`` keyed by recipe, model size, mixture and seed, so a re-run trains only
what is missing. Results: catalog table ``scale_up_runs`` (one row per run: mixture, seed, status, params,
tokens, metric/*), the ``validation.scale_up`` block of the mixture YAML and ``plots/transfer.png``.

Per objective metric (one per capability group) the report gives each mixture's mean over seeds and the
seed spread: the standard deviation of one mixture's seeds, pooled over the mixtures. The optimized
mixture "beats" another when it is better by more than that spread.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow as pa

from automixer.catalog import Catalog
from automixer.flows.common import plots_dir
from automixer.mixing.columns import METRIC
from automixer.mixing.metrics import group_of
from automixer.plots import plot_transfer
from automixer.sweep.results import normalise_mixture, runs_table
from automixer.sweep.runner import RunSpec, prepare, run_unit, train_with_resume
from automixer.typed_yaml import to_plain
from dataplane.errors import ConfigError
from dataplane.store import StageStore
from proxies.config import ProxyConfig

MIXTURES = ("optimized", "natural", "uniform", "best_sampled")


def scale_up_proxy(config) -> ProxyConfig:
    """The larger model's recipe: the proxy's, with the sizes of ``optimize.scale_up`` (0: derived)."""
    su, proxy = config.optimize.scale_up, config.proxy
    model = dataclasses.replace(proxy.model, d_model=su.d_model or 2 * proxy.model.d_model,
                                n_layers=su.n_layers or 2 * proxy.model.n_layers,
                                expert_hidden=su.expert_hidden or 2 * proxy.model.expert_hidden)
    try:
        model.validate()
    except ValueError as exc:
        raise ConfigError(f"optimize.scale_up: {exc}") from None
    train = dataclasses.replace(proxy.train, steps=su.steps or 4 * proxy.train.steps)
    return dataclasses.replace(proxy, model=model, train=train)


def _params(proxy: ProxyConfig, vocab_size: int) -> int:
    import torch

    from proxies.model import ProxyModel

    with torch.device("meta"):  # counts only: no memory, no init
        return ProxyModel(proxy.model, vocab_size).num_params()


def _tokens(proxy: ProxyConfig) -> int:
    return proxy.train.steps * proxy.train.batch_size * proxy.model.seq_len


def check_size(config, vocab_size: int) -> dict:
    """Sizes of proxy and scale-up; ConfigError naming optimize.scale_up when it is not big enough."""
    big = scale_up_proxy(config)
    size = {"proxy": {"params": _params(config.proxy, vocab_size), "tokens": _tokens(config.proxy)},
            "scale_up": {"params": _params(big, vocab_size), "tokens": _tokens(big), "d_model": big.model.d_model,
                         "n_layers": big.model.n_layers, "expert_hidden": big.model.expert_hidden,
                         "steps": big.train.steps}}
    size["ratio"] = {k: round(size["scale_up"][k] / size["proxy"][k], 2) for k in ("params", "tokens")}
    need = config.optimize.scale_up.min_ratio
    for key, ratio in size["ratio"].items():
        if ratio < need:
            raise ConfigError(f"optimize.scale_up: the larger model has {ratio:g}x the proxy's {key} "
                              f"({size['scale_up'][key]:,} vs {size['proxy'][key]:,}); it needs at least "
                              f"optimize.scale_up.min_ratio={need:g}x: raise d_model/n_layers/expert_hidden or steps")
    return size


def run_scale_up(config, mixtures: dict[str, dict[str, float]], metrics: dict[str, bool], plots_out,
                 recipe=None) -> dict:
    """Train and score the scale-up runs; return the ``validation.scale_up`` block (see module docstring).

    mixtures: name -> component weights; metrics: objective metric -> higher is better; recipe: the
    sweep's (``prepare(config)`` unless given).
    """
    recipe = recipe or prepare(config)
    size = check_size(config, recipe.vocab_size)
    big = scale_up_proxy(config)
    names = [r["component"] for r in recipe.components]
    seeds = [config.seed + i for i in range(config.optimize.scale_up.seeds)]
    specs = {f"{name}-s{seed}": (name, RunSpec(f"scale_up-{name}-s{seed}", normalise_mixture(weights, names), seed,
                                               "scale_up"))
             for name, weights in mixtures.items() for seed in seeds}
    print(f"[scale-up] {size['scale_up']['params']:,} parameters x {size['scale_up']['tokens']:,} tokens "
          f"({size['ratio']['params']}x / {size['ratio']['tokens']}x the proxy); "
          f"{len(mixtures)} mixtures x {len(seeds)} seeds", flush=True)
    rows = _train(config, big, recipe, specs)
    table = _runs_table(rows, [specs[k][0] for k in specs])
    with Catalog(config.workdir_path) as catalog:
        catalog.write_table("scale_up_runs", table)
    result = summarize(table, metrics)
    result["size"] = size
    plot_transfer(result["metrics"], plots_dir(config, plots_out) / "transfer.png")
    for line in result["lines"]:
        print(line, flush=True)
    return result


def _train(config, big: ProxyConfig, recipe, specs: dict) -> dict[str, dict]:
    """Rows of every spec: stored ones read back, the rest trained (runner.train_with_resume)."""
    key = json.dumps([recipe.hash, to_plain(big)], sort_keys=True)
    store = StageStore(config.workdir_path, "scale_up")
    rows = train_with_resume(dataclasses.replace(config, proxy=big), recipe, store, [s for _, s in specs.values()],
                             unit_of=lambda s: run_unit(key, s), label="scale-up")
    return {k: rows[s.run_id] for k, (_, s) in specs.items()}


def _runs_table(rows: dict[str, dict], mixture_names: list[str]) -> pa.Table:
    table = runs_table(list(rows.values()))
    table = table.append_column("mixture", pa.array(mixture_names, pa.string()))
    table = table.append_column("params", table.column("n_params"))
    return table.append_column("tokens", table.column("tokens_seen"))


def summarize(table: pa.Table, metrics: dict[str, bool]) -> dict:
    """Per metric: mean and sd over seeds per mixture, the pooled seed spread, and whether the optimized
    mixture beats natural and best sampled by more than that spread."""
    rows = [r for r in table.to_pylist() if r["status"] == "ok"]
    out, lines, wins = {}, [], {}
    for metric, higher in metrics.items():
        values: dict[str, list[float]] = {}
        for r in rows:
            if r.get(metric) is not None:
                values.setdefault(r["mixture"], []).append(float(r[metric]))
        per = {m: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None, "seeds": len(v)}
               for m, v in values.items()}
        within = [np.var(v, ddof=1) for v in values.values() if len(v) > 1]
        spread = float(np.sqrt(np.mean(within))) if within else None
        beats = {}
        for other in ("natural", "best_sampled"):
            if "optimized" in per and other in per and spread is not None:
                gain = (per["optimized"]["mean"] - per[other]["mean"]) * (1.0 if higher else -1.0)
                beats[other] = bool(gain > spread)
        group = group_of(metric)
        out[metric] = {"group": group, "higher_is_better": higher, "mixtures": per, "seed_spread": spread,
                       "beats": beats}
        wins[group] = beats
        lines.append(_line(metric, higher, per, spread, beats))
    return {"metrics": out, "wins": wins, "lines": lines}


def _line(metric: str, higher: bool, per: dict, spread: float | None, beats: dict) -> str:
    def fmt(name):
        label = name.replace("_", " ")
        return f"{label} {per[name]['mean']:.4f}" if name in per else f"{label} failed"

    sp = "n/a" if spread is None else f"{spread:.4f}"
    verdict = ", ".join(f"{'beats' if won else 'does not beat'} {o.replace('_', ' ')}" for o, won in beats.items())
    direction = "higher" if higher else "lower"
    return (f"scale-up {group_of(metric)} ({metric.removeprefix(METRIC)}, {direction} is better): "
            f"{', '.join(fmt(n) for n in MIXTURES)} (seed spread {sp}); optimized {verdict or 'not compared'} "
            "by more than the seed spread")
