"""The proxy swarm: ``automixer sweep CONFIG`` trains one small proxy per sampled mixture on Ray.

Steps (each leaves a file the next reads):
1. components: token files per mixing component and the ``components`` table (automixer.sweep.components);
2. plan: ``sweep/plan.json`` lists every run (id, mixture, seed, tag) with the recipe hash; a re-run
   re-samples, finds the same plan and keeps it, or stops if the recipe changed (use --force);
3. training: the runner's train-with-resume loop (automixer.sweep.runner) over the unfinished runs; each
   finished run is a unit of ``StageStore(workdir, "sweep")``, so a killed sweep resumes where it
   stopped. A failing run is retried ``sweep.max_retries`` times, then recorded with its error; it never
   stops the swarm (and is retried on the next invocation);
4. ``sweep/runs.parquet`` and catalog table ``proxy_runs``; a signal report (mixture spread against
   seed-to-seed spread, from the ``sweep.seed_repeats`` runs repeated with a second seed);
5. with ``sweep.experts``: one data expert per component (automixer.sweep.experts), in the same store and
   runs table (tag ``expert``), and their token probabilities in ``<workdir>/experts`` (the MDE estimate).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import pyarrow as pa

from automixer.catalog import Catalog
from automixer.mixing import acquisition
from automixer.mixing.columns import METRIC
from automixer.mixing.metrics import directions_metadata, measure_of
from automixer.mixing.sampling import sample_mixtures
from automixer.stage_run import stage_run
from automixer.sweep.experts import reset_experts, train_experts
from automixer.sweep.results import normalise_mixture, runs_table
from automixer.sweep.runner import Recipe, RunSpec, prepare, train_mixtures, train_with_resume
from automixer.sweep.signal import signal_report, signal_table
from dataplane.errors import StageError
from dataplane.store import StageStore, atomic_write_text, write_parquet
from proxies.evaluate import MEASURE_HIGHER_IS_BETTER

__all__ = ["run_sweep", "sweep", "train_mixtures", "prepare", "metric_directions", "runs_table"]


def sampled_plan(config, recipe: Recipe) -> list[RunSpec]:
    """The sweep's mixtures (deterministic for config.seed) and the seed repeats."""
    sw = config.sweep
    natural = {r["component"]: r["natural_weight"] for r in recipe.components}
    try:
        mixtures = sample_mixtures(natural, sw.num_proxies, concentrations=sw.concentrations,
                                   space_filling_share=sw.space_filling_share, min_weight=sw.min_weight,
                                   max_weight=sw.max_weight, natural_first=sw.natural_first, seed=config.seed)
    except ValueError as exc:
        raise StageError(f"sweep: {exc}") from None
    specs = [RunSpec(f"p{i:03d}", m, config.seed, "sweep") for i, m in enumerate(mixtures)]
    repeats = [RunSpec(f"{s.run_id}-s1", s.mixture, config.seed + 1, "seed_repeat", s.run_id)
               for s in specs[:sw.seed_repeats]]
    return specs + repeats


def load_plan(config, recipe: Recipe, store: StageStore) -> list[RunSpec]:
    """The stored plan when it matches this config, else a fresh one (StageError if runs would mix recipes)."""
    fresh = sampled_plan(config, recipe)
    path = store.root / "plan.json"
    if not path.exists():
        save_plan(store, recipe, fresh)
        return fresh
    stored = json.loads(path.read_text(encoding="utf-8"))
    old = [RunSpec(**r) for r in stored["runs"]]
    same = [asdict(s) for s in old if s.tag in ("sweep", "seed_repeat")] == [asdict(s) for s in fresh]
    if stored["recipe_hash"] != recipe.hash or not same:
        raise StageError(f"{path}: the sweep config or its components changed since these runs were trained; "
                         "re-run with --force to start over")
    return old


def save_plan(store: StageStore, recipe: Recipe, plan: list[RunSpec]) -> None:
    data = {"recipe_hash": recipe.hash, "runs": [asdict(s) for s in plan]}
    atomic_write_text(store.root / "plan.json", json.dumps(data, indent=1))


def train_units(config, recipe: Recipe, store: StageStore, specs: list[RunSpec], *, train_fn=None) -> list[dict]:
    """Every spec's row, in plan order: finished ones read back, the rest trained (runner.train_with_resume)."""
    weights_dir = store.root / "proxies" if config.sweep.save_weights else None
    rows = train_with_resume(config, recipe, store, specs, train_fn=train_fn, weights_dir=weights_dir)
    return [rows[s.run_id] for s in specs]


def write_runs(config, store: StageStore, rows: list[dict]) -> pa.Table:
    """sweep/runs.parquet and catalog table proxy_runs."""
    table = runs_table(rows)
    directions = metric_directions(table.column_names)
    table = table.replace_schema_metadata(directions_metadata(directions))
    write_parquet(store.root / "runs.parquet", table)
    with Catalog(config.workdir_path) as catalog:
        catalog.write_table("proxy_runs", table)
        catalog.write_table("metric_directions", pa.table({"metric": list(directions),
                                                           "higher_is_better": list(directions.values())}))
    return table


def metric_directions(columns: list[str]) -> dict[str, bool]:
    """metric column -> higher is better, from the measures the proxies report (proxies.evaluate)."""
    out = {}
    for col in (c for c in columns if c.startswith(METRIC)):
        measure = measure_of(col)
        if measure not in MEASURE_HIGHER_IS_BETTER:
            known = ", ".join(MEASURE_HIGHER_IS_BETTER)
            raise StageError(f"sweep: no direction for measure {measure!r} of {col}; add it to "
                             f"proxies.evaluate.MEASURE_HIGHER_IS_BETTER (known: {known})")
        out[col] = MEASURE_HIGHER_IS_BETTER[measure]
    return out


def _propose(config, runs: pa.Table, plan: list[RunSpec], k: int, components: list[str]) -> list[RunSpec]:
    """K new runs from automixer.mixing.acquisition.propose_next, as the next round."""
    rounds = {s.tag for s in plan if s.tag.startswith("next")}
    tag = f"next{len(rounds) + 1}"
    ratios = {r["metric"]: r["rank_ratio"] or r["ratio"] for r in signal_table(runs)}
    mixtures = acquisition.propose_next(runs, k, config, signal=ratios)
    return [RunSpec(f"{tag}-{i:02d}", normalise_mixture(m, components), config.seed, tag)
            for i, m in enumerate(mixtures)]


def sweep(config, *, next_k=None, force=False, train_fn=None) -> str:
    """run_sweep with an injectable training function (tests make proxies fail with it)."""
    store = StageStore(config.workdir_path, "sweep")
    if force:
        store.reset()
        reset_experts(config)
    with stage_run(config, "sweep") as detail:
        started = time.time()
        recipe = prepare(config)
        plan = load_plan(config, recipe, store)
        detail["trained"] = sum(not store.is_done(s.run_id) for s in plan)
        rows = train_units(config, recipe, store, plan, train_fn=train_fn)
        experts = _experts(config, recipe, store)
        runs = write_runs(config, store, rows + experts)
        if next_k:
            names = [r["component"] for r in recipe.components]
            plan = plan + _propose(config, runs, plan, next_k, names)
            save_plan(store, recipe, plan)
            runs = write_runs(config, store, train_units(config, recipe, store, plan, train_fn=train_fn) + experts)
        report, ratios = signal_report(runs)
        print(report)
        n_ok = sum(s == "ok" for s in runs.column("status").to_pylist())
        detail.update({"runs": runs.num_rows, "ok": n_ok, "signal": ratios, "config_hash": recipe.hash})
    return (f"sweep: {n_ok}/{runs.num_rows} proxies ok over {len(recipe.components)} components "
            f"in {time.time() - started:.0f} s -> {store.root / 'runs.parquet'}")


def _experts(config, recipe: Recipe, store: StageStore) -> list[dict]:
    """The experts' runs-table rows (trained where unfinished) with ``sweep.experts``, else none."""
    if not config.sweep.experts:
        return []
    weights_dir = store.root / "proxies" if config.sweep.save_weights else None
    return train_experts(config, recipe, store, weights_dir=weights_dir)


def run_sweep(config, *, next_k=None, force=False) -> str:
    """Sample mixtures, train one proxy per mixture on Ray, record the runs table; return a summary."""
    return sweep(config, next_k=next_k, force=force)
