"""The proxy swarm: ``automixer sweep CONFIG`` trains one small proxy per sampled mixture on Ray.

Steps (each leaves a file the next reads):
1. components: token files per mixing component and the ``components`` table (automixer.sweep.components);
2. plan: ``sweep/plan.json`` lists every run (id, mixture, seed, tag) with the recipe hash; a re-run
   re-samples, finds the same plan and keeps it, or stops if the recipe changed (use --force);
3. training: one Ray task per unfinished run (a GPU fraction when the cluster has GPUs, else CPUs);
   each finished run is a unit of ``StageStore(workdir, "sweep")`` (one-row shard + manifest entry),
   so a killed sweep resumes where it stopped. A failing run is retried ``sweep.max_retries`` times,
   then recorded with its error; it never stops the swarm (and is retried on the next invocation);
4. ``sweep/runs.parquet`` and catalog table ``proxy_runs``; a signal report (mixture spread against
   seed-to-seed spread, from the ``sweep.seed_repeats`` runs repeated with a second seed).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from automixer.catalog import Catalog
from automixer.mixing import acquisition
from automixer.mixing.columns import METRIC, MIX
from automixer.mixing.metrics import directions_metadata, measure_of
from automixer.mixing.sampling import sample_mixtures
from automixer.runtime import cluster_has_gpus, init_ray
from automixer.stage_run import stage_run
from automixer.sweep.components import build_components, pool_shards
from automixer.sweep.eval_sets import build_eval_sets
from automixer.sweep.signal import signal_report, signal_table
from automixer.typed_yaml import to_plain
from dataplane.errors import StageError
from dataplane.store import StageStore, atomic_write_text, write_parquet
from proxies.evaluate import MEASURE_HIGHER_IS_BETTER
from proxies.train import train_proxy


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    mixture: dict
    """component -> weight (sums to 1)."""
    seed: int
    tag: str
    """sweep, seed_repeat, next<round>, or the tag given to train_mixtures."""
    repeat_of: str = ""


@dataclass
class Recipe:
    """What every proxy of this sweep shares."""

    components: list[dict]
    eval_sets: list
    vocab_size: int
    hash: str


def prepare(config) -> Recipe:
    """Build (or reuse) the components and tokenize the evaluation sets."""
    rows, info, train_ids = build_components(config)
    rows = [r for r in rows if r["tokens"] >= config.sweep.min_component_tokens]
    if not rows:
        raise StageError(f"{config.workdir_path}/components: no component has enough tokens to train on")
    eval_sets = build_eval_sets(config, info, train_ids, pool_shards(config.workdir_path))
    blob = json.dumps({"proxy": to_plain(config.proxy), "eval": to_plain(config.sweep.eval),
                       "decontam_ngram": config.sweep.decontam_ngram,
                       "components": [(r["component"], r["tokens"]) for r in rows],
                       "vocab": info.vocab_size}, sort_keys=True)
    return Recipe(rows, eval_sets, info.vocab_size, hashlib.sha256(blob.encode()).hexdigest()[:12])


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


def _proxy_task(train_fn, proxy_config, spec: RunSpec, components: dict, eval_sets, vocab_size: int, out_dir):
    """Runs in a Ray worker: train and score one proxy."""
    return train_fn(proxy_config, components, eval_sets, seed=spec.seed, vocab_size=vocab_size, out_dir=out_dir)


def _task_options(config) -> dict:
    threads = max(1, config.proxy.train.num_threads)
    if cluster_has_gpus() and config.proxy.train.device != "cpu":
        return {"num_gpus": config.sweep.gpus_per_proxy, "num_cpus": 1, "max_retries": 0}
    return {"num_cpus": threads, "num_gpus": 0, "max_retries": 0}


def execute(config, recipe: Recipe, specs: list[RunSpec], on_done, *, train_fn=None, weights_dir: Path | None = None) -> None:
    """Train ``specs`` as Ray tasks; call ``on_done(spec, result_or_None, error, attempts)`` as each ends."""
    init_ray(config.ray)
    remote = ray.remote(_proxy_task).options(**_task_options(config))
    files = {r["component"]: r["token_file"] for r in recipe.components}
    eval_ref = ray.put(recipe.eval_sets)
    train_fn = train_fn or train_proxy

    def submit(spec: RunSpec):
        comps = {c: (w, files[c]) for c, w in spec.mixture.items() if w > 0}
        out = str(weights_dir / spec.run_id) if weights_dir else None
        return remote.remote(train_fn, config.proxy, spec, comps, eval_ref, recipe.vocab_size, out)

    pending = {submit(s): (s, 1) for s in specs}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        spec, attempt = pending.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except Exception as exc:  # noqa: BLE001 - task errors and crashed workers: one proxy never stops the swarm
            if attempt <= config.sweep.max_retries:
                print(f"[sweep] {spec.run_id}: attempt {attempt} failed ({_short(exc)}); retrying", flush=True)
                pending[submit(spec)] = (spec, attempt + 1)
            else:
                on_done(spec, None, _short(exc), attempt)
            continue
        on_done(spec, result, None, attempt)


def _short(exc: BaseException) -> str:
    """The last line of an error (Ray wraps the worker traceback)."""
    cause = getattr(exc, "cause", None) or exc
    text = f"{type(cause).__name__}: {cause}".strip()
    return text.splitlines()[-1][:500] if "\n" in text else text[:500]


def run_row(spec: RunSpec, result: dict | None, error: str | None, attempts: int, recipe: Recipe) -> dict:
    """One runs-table row (mix/* for every component, metric/* from the result)."""
    row = {"run_id": spec.run_id, "tag": spec.tag, "repeat_of": spec.repeat_of,
           "status": "ok" if result else "failed", "error": error, "attempts": attempts,
           "seed": spec.seed, "config_hash": recipe.hash}
    res = result or {}
    for key in ("tokens_seen", "tokens_per_s", "wall_s", "weights_sha256", "train_loss", "n_params"):
        row[key] = res.get(key)
    for c in recipe.components:
        row[f"{MIX}{c['component']}"] = float(spec.mixture.get(c["component"], 0.0))
    for name, value in sorted(res.get("metrics", {}).items()):
        row[f"{METRIC}{name}"] = float(value)
    return row


_FIXED_COLUMNS = {"run_id": pa.string(), "tag": pa.string(), "repeat_of": pa.string(), "status": pa.string(),
                  "error": pa.string(), "attempts": pa.int64(), "seed": pa.int64(), "config_hash": pa.string(),
                  "tokens_seen": pa.int64(), "tokens_per_s": pa.float64(), "wall_s": pa.float64(),
                  "weights_sha256": pa.string(), "train_loss": pa.float64(), "n_params": pa.int64()}


def runs_table(rows: list[dict]) -> pa.Table:
    """Rows -> the runs table: fixed columns, then mix/* and metric/* (union over rows, nulls if absent)."""
    extra = sorted({k for r in rows for k in r if k not in _FIXED_COLUMNS},
                   key=lambda k: (not k.startswith(MIX), k))
    schema = pa.schema(list(_FIXED_COLUMNS.items()) + [(k, pa.float64()) for k in extra])
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)


class Progress:
    """Prints one line per finished proxy with the running count and an ETA."""

    def __init__(self, total: int):
        self.total, self.done, self.started = total, 0, time.time()

    def __call__(self, spec: RunSpec, row: dict) -> None:
        self.done += 1
        elapsed = time.time() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        losses = [f"{k[len(METRIC):]}={v:.3f}" for k, v in row.items() if k.startswith(METRIC) and k.endswith("_loss")][:4]
        what = " ".join(losses) if row["status"] == "ok" else f"FAILED: {row['error']}"
        print(f"[sweep] {self.done}/{self.total} {spec.run_id} {what} ({elapsed:.0f} s, ETA {eta:.0f} s)", flush=True)


def train_units(config, recipe: Recipe, store: StageStore, specs: list[RunSpec], *, train_fn=None) -> list[dict]:
    """Train the runs not finished yet; finished ones become store units; return the failed rows."""
    todo = [s for s in specs if not store.is_done(s.run_id)]
    failed: list[dict] = []
    progress = Progress(len(todo))
    weights_dir = store.root / "proxies" if config.sweep.save_weights else None

    def on_done(spec, result, error, attempts):
        row = run_row(spec, result, error, attempts, recipe)
        if result is not None:
            path = write_parquet(store.shard_path("runs", spec.run_id), pa.Table.from_pylist([row]))
            store.mark_done(spec.run_id, {"runs": [path]}, {"wall_s": row["wall_s"]})
        else:
            failed.append(row)
        progress(spec, row)

    if todo:
        print(f"[sweep] training {len(todo)} proxies ({len(specs) - len(todo)} already finished)", flush=True)
        execute(config, recipe, todo, on_done, train_fn=train_fn, weights_dir=weights_dir)
    return failed


def write_runs(config, store: StageStore, plan: list[RunSpec], failed: list[dict]) -> pa.Table:
    """sweep/runs.parquet and catalog table proxy_runs, in plan order."""
    done = store.read("runs")
    rows = (done.to_pylist() if done is not None else []) + failed
    order = {s.run_id: i for i, s in enumerate(plan)}
    table = runs_table(sorted(rows, key=lambda r: order.get(r["run_id"], len(order))))
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
            raise StageError(f"sweep: no direction for measure {measure!r} of {col}; add it to "
                             f"proxies.evaluate.MEASURE_HIGHER_IS_BETTER (known: {', '.join(MEASURE_HIGHER_IS_BETTER)})")
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


def normalise_mixture(mixture: dict, components: list[str]) -> dict:
    """Accept ``name`` or ``mix/name`` keys; missing components get 0; weights are rescaled to sum 1."""
    clean = {k[len(MIX):] if k.startswith(MIX) else k: float(v) for k, v in mixture.items()}
    unknown = sorted(set(clean) - set(components))
    if unknown:
        raise StageError(f"mixture names unknown component {unknown[0]!r}; components are: {', '.join(components)}")
    total = sum(clean.values())
    if total <= 0 or any(v < 0 for v in clean.values()):
        raise StageError(f"mixture weights must be >= 0 with a positive sum, got {mixture}")
    return {c: clean.get(c, 0.0) / total for c in components}


def sweep(config, *, next_k=None, force=False, train_fn=None) -> str:
    """run_sweep with an injectable training function (tests make proxies fail with it)."""
    store = StageStore(config.workdir_path, "sweep")
    if force:
        store.reset()
    with stage_run(config, "sweep") as detail:
        started = time.time()
        recipe = prepare(config)
        plan = load_plan(config, recipe, store)
        detail["trained"] = sum(not store.is_done(s.run_id) for s in plan)
        failed = train_units(config, recipe, store, plan, train_fn=train_fn)
        runs = write_runs(config, store, plan, failed)
        if next_k:
            names = [r["component"] for r in recipe.components]
            plan = plan + _propose(config, runs, plan, next_k, names)
            save_plan(store, recipe, plan)
            failed = train_units(config, recipe, store, plan, train_fn=train_fn)
            runs = write_runs(config, store, plan, failed)
        report, ratios = signal_report(runs)
        print(report)
        n_ok = sum(s == "ok" for s in runs.column("status").to_pylist())
        detail.update({"runs": runs.num_rows, "ok": n_ok, "signal": ratios, "config_hash": recipe.hash})
    return (f"sweep: {n_ok}/{runs.num_rows} proxies ok over {len(recipe.components)} components "
            f"in {time.time() - started:.0f} s -> {store.root / 'runs.parquet'}")


def run_sweep(config, *, next_k=None, force=False) -> str:
    """Sample mixtures, train one proxy per mixture on Ray, record the runs table; return a summary."""
    return sweep(config, next_k=next_k, force=force)


def train_mixtures(config, mixtures: list[dict[str, float]], *, tag: str, seed: int | None = None,
                   recipe: Recipe | None = None) -> pa.Table:
    """Train one proxy per mixture with the sweep's recipe (``prepare(config)`` unless given); return runs-table rows.

    Finished runs are kept in ``StageStore(workdir, "validate")``, keyed by recipe, seed and mixture, so
    asking again for the same mixture (a re-run of ``optimize --validate``) trains nothing.
    """
    recipe = recipe or prepare(config)
    names = [r["component"] for r in recipe.components]
    seed = config.seed if seed is None else seed
    specs = [RunSpec(f"{tag}-{i:03d}", normalise_mixture(m, names), seed, tag) for i, m in enumerate(mixtures)]
    store = StageStore(config.workdir_path, "validate")
    units = {s.run_id: _validation_unit(recipe, s) for s in specs}
    done = store.done_units()
    rows: dict[str, dict] = {}
    for spec in specs:
        if units[spec.run_id] in done:
            rows[spec.run_id] = pq.read_table(store.root / done[units[spec.run_id]]["files"]["runs"][0]).to_pylist()[0]
    todo = [s for s in specs if s.run_id not in rows]
    progress = Progress(len(todo))

    def on_done(spec, result, error, attempts):
        rows[spec.run_id] = run_row(spec, result, error, attempts, recipe)
        progress(spec, rows[spec.run_id])
        if result:  # failed runs are not kept: asking again retries them
            unit = units[spec.run_id]
            path = write_parquet(store.shard_path("runs", unit), runs_table([rows[spec.run_id]]))
            store.mark_done(unit, {"runs": [path]})

    if todo:
        execute(config, recipe, todo, on_done)
    return runs_table([rows[s.run_id] for s in specs])


def _validation_unit(recipe: Recipe, spec: RunSpec) -> str:
    key = json.dumps([recipe.hash, spec.seed, spec.tag, spec.run_id,
                      sorted((k, round(v, 9)) for k, v in spec.mixture.items())])
    return f"{spec.run_id}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
