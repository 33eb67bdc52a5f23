"""Corpus-scale benchmark of the sweep's components and ``automixer export``: driver memory and throughput.

Corpus (built here, cached under --workdir): real documents from ../shared/corpora (bench_dedup's
``load_originals``: web, news, forum, government, PubMed, SciTLDR, WikiText, GSM8K, MATH), repeated
with edits (bench_dedup's ``variant``: half of the words replaced) up to the size. They are written as
a curate stage of 3 sources x 2 buckets, shards of --shard-docs documents (one source per shard, as
curate writes them), so the pool has 6 components. Two byte-level BPE tokenizers are trained on the
real documents: the proxies' (4k vocabulary) and a stand-in for the full run's (32k).

Per size, each step in a fresh process on a local Ray of 2 CPUs:
- components: ``build_components`` (one task per pool shard);
- export: ``run_export`` of the natural mixture with the 32k tokenizer (one task per component shard);
- baseline: the same texts read into one process, then ``tokenizers``' ``encode_batch`` (batches of
  1,000; it uses every core) with the 32k tokenizer, timed over the encoding only.
Printed: wall seconds of the step's own work (Ray start-up excluded), the driver's peak RSS (VmHWM,
polled from /proc) and the largest worker's, and export throughput in tokens/s next to the baseline's.

Run: nice -n 19 .venv/bin/python benchmarks/bench_export.py [--sizes 30000,300000,1000000]
     [--shard-docs 10000] [--max-words 300] [--steps components,export,baseline] [--workdir /tmp/bench_export]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

SOURCES = ("web", "science", "math")


# --- corpus -------------------------------------------------------------------------------------------
def _tokenizer(texts: list[str], vocab_size: int, path: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(str(path))
    return path


def build_workdir(size: int, root: Path, shard_docs: int, max_words: int) -> Path:
    """A workdir with curate kept shards of ``size`` documents (cut at ``max_words``) and the proxy tokenizer."""
    import pyarrow as pa
    from bench_dedup import load_originals, variant

    from dataplane.schema import conform
    from dataplane.store import StageStore, write_parquet

    workdir = root / f"work-{size}-{max_words}w"
    if (workdir / "tokenizer.json").exists():
        return workdir
    shutil.rmtree(workdir, ignore_errors=True)
    originals = load_originals(max_words)
    vocab = [w for t in originals[:500] for w in t.split()]
    rng = random.Random(1)
    store = StageStore(workdir, "curate")
    for start in range(0, size, shard_docs):
        n = min(shard_docs, size - start)
        source = SOURCES[(start // shard_docs) % len(SOURCES)]
        texts = [originals[i] if i < len(originals) else variant(originals[i % len(originals)], rng, vocab)
                 for i in range(start, start + n)]
        rows = [{"source": source, "domain": source, "text": t, "bucket": i % 2} for i, t in enumerate(texts)]
        unit = f"{source}-{start:09d}"
        path = write_parquet(store.shard_path("kept", unit), conform(pa.Table.from_pylist(rows)))
        store.mark_done(unit, {"kept": [path]}, {"docs": n})
    full = root / "full_tokenizer.json"
    if not full.exists():
        _tokenizer(load_originals(), 32000, full)
    _tokenizer(originals, 4096, workdir / "tokenizer.json")
    return workdir


def _config(workdir: Path):
    from automixer.config import config_from_dict

    return config_from_dict({"workdir": str(workdir), "seed": 0, "ray": {"num_cpus": 2},
                             "optimize": {"max_epochs": 0}})


# --- one step in this process (run by the parent in a fresh process) ------------------------------------
def step_components(workdir: Path) -> dict:
    from automixer.runtime import init_ray
    from automixer.sweep.components import build_components

    config = _config(workdir)
    init_ray(config.ray)
    t0 = time.perf_counter()
    rows, _, _ = build_components(config)
    return {"seconds": time.perf_counter() - t0, "docs": sum(r["docs"] for r in rows),
            "tokens": sum(r["tokens"] for r in rows)}


def step_export(workdir: Path, tokenizer: Path) -> dict:
    from automixer.flows.export import run_export
    from automixer.mixing.mixture import Mixture
    from automixer.runtime import init_ray, ray_tasks

    config = _config(workdir)
    init_ray(config.ray)
    rows = json.loads((workdir / "components" / "components.json").read_text())
    mixture = Mixture(weights={r["component"]: r["natural_weight"] for r in rows},
                      token_budget=sum(r["tokens"] for r in rows),
                      available_tokens={r["component"]: r["tokens"] for r in rows},
                      shards={r["component"]: r["shards"] for r in rows})
    mixture_file = mixture.save(workdir / "mixture.yaml")
    out = workdir / "export"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run_export(config, mixture_file=mixture_file, tokenizer=tokenizer, out_dir=out, map_tasks=ray_tasks)
    seconds = time.perf_counter() - t0
    manifest = json.loads((out / "export_manifest.json").read_text())
    tokens = sum(c["full_tokens"] for c in manifest["components"].values())
    return {"seconds": seconds, "tokens": tokens, "docs": sum(c["docs"] for c in manifest["components"].values())}


def step_baseline(workdir: Path, tokenizer: Path) -> dict:
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    texts = [t for p in sorted((workdir / "curate" / "kept").glob("*.parquet"))
             for t in pq.read_table(p, columns=["text"]).column("text").to_pylist()]
    tok = Tokenizer.from_file(str(tokenizer))
    t0 = time.perf_counter()
    tokens = sum(len(e.ids) + 1 for s in range(0, len(texts), 1000)
                 for e in tok.encode_batch(texts[s:s + 1000], add_special_tokens=False))
    return {"seconds": time.perf_counter() - t0, "tokens": tokens, "docs": len(texts)}


# --- the parent: each step in a fresh process, memory polled ----------------------------------------------
def run_step(step: str, workdir: Path, tokenizer: Path) -> dict:
    from bench_dedup import run_command

    args = [sys.executable, __file__, "--step", step, "--workdir", str(workdir), "--tokenizer", str(tokenizer)]
    wall, cpu, driver_mb, worker_mb, output = run_command(args)
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{step} failed:\n{output[-3000:]}")
    return {**json.loads(lines[-1]), "driver_mb": driver_mb, "worker_mb": worker_mb, "cpu_s": cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="30000,300000,1000000")
    ap.add_argument("--shard-docs", type=int, default=10000)
    ap.add_argument("--max-words", type=int, default=300, help="documents cut at this many words")
    ap.add_argument("--steps", default="components,export,baseline", help="the steps to run per size")
    ap.add_argument("--workdir", default="/tmp/bench_export")
    ap.add_argument("--step", choices=["components", "export", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--tokenizer", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        workdir, tokenizer = Path(args.workdir), Path(args.tokenizer or "")
        result = {"components": lambda: step_components(workdir), "export": lambda: step_export(workdir, tokenizer),
                  "baseline": lambda: step_baseline(workdir, tokenizer)}[args.step]()
        print(json.dumps(result))
        return
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    print(f"{'docs':>9} {'step':>10} {'seconds':>8} {'tokens':>12} {'tokens/s':>10} {'driver MB':>9} "
          f"{'worker MB':>9}  export / baseline", flush=True)
    first_driver = {}
    for size in map(int, args.sizes.split(",")):
        workdir = build_workdir(size, root, args.shard_docs, args.max_words)
        if "components" in args.steps:
            shutil.rmtree(workdir / "components", ignore_errors=True)
        results = {s: run_step(s, workdir, root / "full_tokenizer.json") for s in args.steps.split(",")}
        for step, r in results.items():
            first_driver.setdefault(step, r["driver_mb"])
            note = ""
            if step == "export" and "baseline" in results:
                base = results["baseline"]
                note = f"  {r['tokens'] / r['seconds'] / (base['tokens'] / base['seconds']):.0%}"
            if step != "baseline":
                note += f"  driver x{r['driver_mb'] / first_driver[step]:.2f} of the first size"
            print(f"{size:>9,} {step:>10} {r['seconds']:>8.1f} {r['tokens']:>12,} {r['tokens'] / r['seconds']:>10,.0f} "
                  f"{r['driver_mb']:>9.0f} {r['worker_mb']:>9.0f}{note}", flush=True)


if __name__ == "__main__":
    main()
