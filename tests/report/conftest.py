"""A reduced demo run (every stage, real components) for the report tests, and its curate-only state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _head_jsonl(src: Path, dst: Path, n: int) -> None:
    lines = src.read_text(encoding="utf-8").splitlines()[:n]
    dst.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def small_demo_sources(folder: Path) -> None:
    """The demo sources (automixer demo-data), cut to a few hundred documents so every stage is quick."""
    from automixer.demo_data import build_demo_data

    full = folder.parent / "full_sources"
    build_demo_data(full, seed=0)
    (folder / "stdlib_code").mkdir(parents=True)
    code = sorted((full / "stdlib_code").iterdir(), key=lambda p: (p.stat().st_size, p.name))
    for path in code[40:120]:  # mid-sized modules: skip the tiniest, keep files small
        shutil.copy(path, folder / "stdlib_code" / path.name)
    for name, n in (("stdlib_docs", 150), ("python_reference", 80), ("math_problems", 300)):
        _head_jsonl(full / f"{name}.jsonl", folder / f"{name}.jsonl", n)
    (folder / "eval").mkdir()
    for name in ("code", "stem", "math", "math_choices"):
        _head_jsonl(full / "eval" / f"{name}.jsonl", folder / "eval" / f"{name}.jsonl", 12)
    shutil.rmtree(full)


def small_demo_config(workdir: Path) -> dict:
    """configs/demo.yaml with the reduced sources, a 6-proxy sweep of tiny models and quick fit/optimize."""
    data = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text(encoding="utf-8"))
    data["workdir"] = str(workdir)
    data["curation"]["tokenizer"] = {"vocab_size": 512}
    data["synth"]["policy"] = [{**rule, "max_docs": 10} for rule in data["synth"]["policy"]]
    data["sweep"] = {"num_proxies": 5, "seed_repeats": 2, "max_retries": 0,
                     "eval": [{**e, "max_items": 12} for e in data["sweep"]["eval"]]}
    data["proxy"] = {"model": {"d_model": 32, "n_layers": 2, "n_heads": 2, "num_experts": 4, "top_k": 2,
                               "expert_hidden": 32, "window": 8, "global_every": 2, "seq_len": 32},
                     "train": {"steps": 6, "batch_size": 4, "eval_batch_size": 16, "device": "cpu", "num_threads": 1}}
    data["fit"] = {"cv_folds": 3, "candidates": ["linear", "loglinear", "gp"], "higher_is_better": ["math_acc"]}
    data["optimize"].update({"n_trials": 30, "token_budget": 200000})
    return data


@pytest.fixture(scope="session")
def small_run(tmp_path_factory, ray_local):
    """A reduced demo run: (config path, partial report folder written after curate, workdir).

    Curate runs first and the report is written then (the partial page); the other stages follow
    in the same workdir.
    """
    from automixer.config import load_config
    from automixer.demo import _stage_calls
    from automixer.flows.report import run_report

    root = tmp_path_factory.mktemp("report_run")
    workdir = root / "work"
    small_demo_sources(workdir / "sources")
    config_path = root / "small_demo.yaml"
    config_path.write_text(yaml.safe_dump(small_demo_config(workdir)), encoding="utf-8")
    config = load_config(config_path)
    calls = dict(_stage_calls(config, workdir, str(config_path)))
    calls["curate"]()
    partial = root / "partial_report"
    run_report(config, partial, config_path=str(config_path))
    for stage in ("dedup", "synth", "sweep", "fit", "optimize"):
        calls[stage]()
    _add_contract_tables(config, workdir)
    return config_path, partial, workdir


def _add_contract_tables(config, workdir: Path) -> None:
    """influence.csv and scale_up_runs (contracts of parallel work) where this version's fit and
    optimize did not write them, so the page's handling of both is exercised. Their values come from
    the run's own measurements: the influence of a component is the correlation of its weight with the
    group's negated loss over the sweep; the scale-up rows are the validation runs (at proxy size)."""
    import numpy as np
    import pyarrow as pa

    from automixer.catalog import Catalog

    with Catalog(workdir) as cat:
        runs = cat.query("SELECT * FROM proxy_runs WHERE status = 'ok'").to_pylist()
        influence = workdir / "surrogates" / "influence.csv"
        if not influence.exists():
            lines = ["group,component,effect"]
            for metric in (m for m in runs[0] if m.startswith("metric/") and m.endswith("_loss")):
                y = -np.array([r[metric] for r in runs])
                for comp in (c for c in runs[0] if c.startswith("mix/")):
                    x = np.array([r[comp] for r in runs])
                    effect = float(np.corrcoef(x, y)[0, 1]) if x.std() and y.std() else 0.0
                    lines.append(f"{metric[7:].split('_')[0]},{comp[4:]},{effect:.4f}")
            influence.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if not cat.has_relation("scale_up_runs"):
            measured = yaml.safe_load((workdir / "mixture.yaml").read_text())["validation"]["measured"]
            size = {k: runs[0][k] for k in ("n_params", "tokens_seen")}
            rows = [
                {
                    "mixture": name,
                    "seed": config.seed,
                    "status": "ok",
                    "params": size["n_params"],
                    "tokens": size["tokens_seen"],
                    **m["metrics"],
                }
                for name, m in measured.items()
                if m["status"] == "ok"
            ]
            cat.write_table("scale_up_runs", pa.Table.from_pylist(rows))
