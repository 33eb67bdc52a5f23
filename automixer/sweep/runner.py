"""The proxy-training runner: every proxy the project trains (sweep, validation, scale-up) goes through here.

- ``RunSpec``: one run (id, mixture, seed, tag); ``Recipe``: what all runs of a workdir share (components,
  evaluation sets, vocab, hash), built by ``prepare(config)``;
- ``execute``: trains specs as Ray tasks and calls back as each spec ends, retrying failed tasks;
- ``train_with_resume``: the one train-with-resume loop. Each finished run is a unit of a ``StageStore``
  (a one-row runs-table shard + manifest entry), so a re-run reads finished runs back and trains only the
  rest; after a kill, a re-run redoes only the unfinished runs. Failed runs are returned, never stored:
  asking again retries them;
- ``train_mixtures``: validation runs on given mixtures, resumable (used by ``optimize --validate``).

Rows and the runs table are in ``automixer.sweep.results``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from automixer.runtime import cluster_has_gpus, init_ray
from automixer.sweep.components import build_components, pool_shards
from automixer.sweep.eval_sets import build_eval_sets
from automixer.sweep.results import Progress, normalise_mixture, run_row, runs_table
from automixer.typed_yaml import to_plain
from dataplane.errors import StageError
from dataplane.store import StageStore, write_parquet
from proxies.train import train_proxy


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    mixture: dict
    """component -> weight (sums to 1)."""
    seed: int
    tag: str
    """sweep, seed_repeat, next<round>, scale_up, or the tag given to train_mixtures."""
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


# --- Ray execution ---------------------------------------------------------------------------------

def _proxy_task(train_fn, proxy_config, job: dict, eval_sets, vocab_size: int) -> dict:
    """Runs in a Ray worker: train and score one proxy."""
    return (train_fn or train_proxy)(proxy_config, job["components"], eval_sets, seed=job["seed"],
                                     vocab_size=vocab_size, out_dir=job["out_dir"])


def _task_options(config) -> dict:
    threads = max(1, config.proxy.train.num_threads)
    if cluster_has_gpus() and config.proxy.train.device != "cpu":
        return {"num_gpus": config.sweep.gpus_per_proxy, "num_cpus": 1, "max_retries": 0}
    return {"num_cpus": threads, "num_gpus": 0, "max_retries": 0}


def execute(config, recipe: Recipe, specs: list[RunSpec], on_done, *, train_fn=None,
            weights_dir: Path | None = None) -> None:
    """Train ``specs``, one Ray task per proxy; call ``on_done(spec, result_or_None, error, attempts)`` as each ends.

    A failed task is retried ``sweep.max_retries`` times. ``train_fn(proxy_config, components, eval_sets,
    *, seed, vocab_size, out_dir)`` replaces the trainer (proxies.train.train_proxy). One proxy per task:
    stacking several into one batched model was measured and dropped (docs/DECISIONS.md, issue 23).
    """
    init_ray(config.ray)
    remote = ray.remote(_proxy_task).options(**_task_options(config))
    files = {r["component"]: r["token_file"] for r in recipe.components}
    eval_ref = ray.put(recipe.eval_sets)

    def submit(spec: RunSpec):
        job = {"components": {c: (w, files[c]) for c, w in spec.mixture.items() if w > 0}, "seed": spec.seed,
               "out_dir": str(weights_dir / spec.run_id) if weights_dir else None}
        return remote.remote(train_fn, config.proxy, job, eval_ref, recipe.vocab_size)

    pending = {submit(s): (s, 1) for s in specs}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        spec, attempt = pending.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except Exception as exc:  # noqa: BLE001 - task errors and crashed workers: one proxy never stops the swarm
            if attempt <= config.sweep.max_retries:
                print(f"[runner] {spec.run_id}: attempt {attempt} failed ({_short(exc)}); retrying", flush=True)
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


# --- the one train-with-resume loop ----------------------------------------------------------------

def train_with_resume(config, recipe: Recipe, store: StageStore, specs: list[RunSpec], *,
                      unit_of: Callable[[RunSpec], str] = lambda s: s.run_id, label: str = "sweep",
                      train_fn=None, weights_dir: Path | None = None,
                      on_result: Callable[[RunSpec, dict], None] | None = None) -> dict[str, dict]:
    """Runs-table rows of every spec (by run_id): finished units read back, the rest trained and stored.

    ``unit_of(spec)`` names the spec's unit in ``store`` (a key that changes with whatever makes a run
    different); failed runs come back with status ``failed`` and are not stored. ``on_result(spec, result)``
    sees each successful result before its unit is marked done (the experts write their probabilities there).
    """
    done = store.done_units()
    rows = {s.run_id: _read_row(store, done[unit_of(s)]) for s in specs if unit_of(s) in done}
    todo = [s for s in specs if s.run_id not in rows]
    progress = Progress(len(todo), label)

    def on_done(spec, result, error, attempts):
        if result is not None and on_result is not None:
            on_result(spec, result)
        row = run_row(spec, result, error, attempts, recipe)
        rows[spec.run_id] = row
        if result is not None:
            unit = unit_of(spec)
            path = write_parquet(store.shard_path("runs", unit), runs_table([row]))
            store.mark_done(unit, {"runs": [path]}, {"wall_s": row["wall_s"]})
        progress(spec, row)

    if todo:
        print(f"[{label}] training {len(todo)} proxies ({len(specs) - len(todo)} already finished)", flush=True)
        execute(config, recipe, todo, on_done, train_fn=train_fn, weights_dir=weights_dir)
    return {s.run_id: rows[s.run_id] for s in specs}


def _read_row(store: StageStore, entry: dict) -> dict:
    return pq.read_table(store.root / entry["files"]["runs"][0]).to_pylist()[0]


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
    rows = train_with_resume(config, recipe, StageStore(config.workdir_path, "validate"), specs,
                             unit_of=lambda s: run_unit(recipe.hash, s), label="validate")
    return runs_table([rows[s.run_id] for s in specs])


def run_unit(key: str, spec: RunSpec) -> str:
    """A store unit for ``spec`` that changes with ``key`` (recipe hash, model size), seed and mixture."""
    mixture = sorted((k, round(v, 9)) for k, v in spec.mixture.items())
    blob = json.dumps([key, spec.seed, spec.tag, spec.run_id, mixture])
    return f"{spec.run_id}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
