"""The demo: every stage on the embedded default config, with each stage's wall time printed."""

from __future__ import annotations

import time
from pathlib import Path

from automixer.config import load_config
from automixer.demo_data import build_demo_data
from automixer.flows.curate import run_curate
from automixer.flows.dedup import run_dedup
from automixer.flows.fit import run_fit
from automixer.flows.optimize import run_optimize
from automixer.flows.report import run_report
from automixer.flows.sweep import run_sweep
from automixer.flows.synth import run_synth
from automixer.runtime import init_ray


def _stage_calls(config, workdir: Path, config_path: str):
    """(name, callable) for every stage, in data-flow order."""
    surrogates = workdir / "surrogates"
    mixture = workdir / "mixture.yaml"

    return [
        ("curate", lambda: run_curate(config, train_classifier=True)),
        ("dedup", lambda: run_dedup(config)),
        ("synth", lambda: run_synth(config)),
        ("sweep", lambda: run_sweep(config)),
        ("fit", lambda: run_fit(config, runs_file=None, targets=None, out_dir=str(surrogates))),
        ("optimize", lambda: run_optimize(config, surrogate_dir=str(surrogates), out_file=str(mixture), validate=True)),
        ("report", lambda: run_report(config, config_path=config_path)),
    ]


def run_demo(config_path: str, ray_address: str | None = None, seed: int | None = None) -> dict[str, float]:
    """Build the demo sources if needed, run each stage, print wall times; return them.

    A ``seed`` other than the config's runs in ``<workdir>-seed<N>``, so seeds never share finished work."""
    config = load_config(config_path)
    if seed is not None and seed != config.seed:
        config = load_config(config_path, {"seed": seed, "workdir": f"{config.workdir}-seed{seed}"})
    workdir = config.workdir_path
    timings: dict[str, float] = {}

    started = time.time()
    sources_dir = workdir / "sources"
    if not (sources_dir / "eval" / "math_choices.jsonl").exists():
        build_demo_data(sources_dir, seed=config.seed)
    timings["demo-data"] = time.time() - started

    init_ray(config.ray, ray_address)
    for name, call in _stage_calls(config, workdir, config_path):
        started = time.time()
        result = call()
        timings[name] = time.time() - started
        print(f"[demo] {name}: {result}")

    print("\nstage        wall time")
    for name, seconds in timings.items():
        print(f"{name:12s} {seconds:8.1f} s")
    print(f"{'total':12s} {sum(timings.values()):8.1f} s")
    report = workdir.resolve() / "report" / "index.html"
    if "report" in timings:
        print(f"\nreport: {report} (open it in a browser; it needs no server)")
    return timings
