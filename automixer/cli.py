"""The ``automixer`` command line. Each subcommand loads its config, calls one library function,
writes one artifact and prints its path. Project errors print as one line and exit with code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dataplane.errors import AutomixerError

DEMO_CONFIG = "configs/demo.yaml"
STAGES = ("curate", "dedup", "synth", "sweep", "fit", "optimize")


def _load(args: argparse.Namespace):
    from automixer.config import load_config

    overrides = {"seed": args.seed} if getattr(args, "seed", None) is not None else None
    config = load_config(args.config, overrides)
    if getattr(args, "dry_run", False):
        print(config.to_yaml(), end="")
        raise SystemExit(0)
    return config


def _ray(config, args) -> None:
    from automixer.runtime import init_ray
    from dataplane.store import ensure_dir

    ensure_dir(config.workdir_path, "workdir")  # a workdir that is a file: one line, before Ray starts
    init_ray(config.ray, getattr(args, "ray_address", None))


def cmd_validate(args):
    from automixer.config import check_source_paths

    config = _load(args)
    check_source_paths(config, args.config)
    print(f"{args.config}: ok ({len(config.sources)} sources, workdir {config.workdir}, config hash {config.hash()})")


def cmd_demo_data(args):
    from automixer.demo_data import build_demo_data

    counts = build_demo_data(args.dir, seed=args.seed or 0)
    for name, n in counts.items():
        print(f"{name:24s} {n:6d}")
    print(Path(args.dir).resolve())


def cmd_curate(args):
    from automixer.config import check_source_paths
    from automixer.flows.curate import run_curate

    config = _load(args)
    check_source_paths(config, args.config)
    _ray(config, args)
    print(run_curate(config, train_classifier=args.train_classifier, force=args.force))


def cmd_dedup(args):
    from automixer.flows import dedup as flow

    if args.input:
        if not args.output:
            raise AutomixerError("dedup --input needs --output DIR")
        from dedup.config import DedupConfig

        cfg = DedupConfig(threshold=args.threshold, num_perm=args.num_perm, ngram=args.ngram)
        print(flow.run_dedup_file(args.input, args.output, cfg))
        return
    if not args.config:
        raise AutomixerError("dedup needs CONFIG, or --input PATH --output DIR")
    config = _load(args)
    _ray(config, args)
    print(flow.run_dedup(config, force=args.force))


def cmd_synth(args):
    from automixer.flows.synth import run_synth

    config = _load(args)
    _ray(config, args)
    print(run_synth(config, force=args.force))


def cmd_sweep(args):
    from automixer.flows.sweep import run_sweep

    config = _load(args)
    _ray(config, args)
    print(run_sweep(config, next_k=args.next, force=args.force))


def cmd_fit(args):
    from automixer.flows.fit import run_fit

    config = _load(args) if args.config else None
    print(run_fit(config, runs_file=args.runs, targets=args.target or None, out_dir=args.out))


def cmd_predict(args):
    from automixer.flows.predict import run_predict

    print(run_predict(args.surrogate, args.mixtures, args.out))


def cmd_optimize(args):
    from automixer.flows.optimize import run_optimize

    config = _load(args) if args.config else None
    if config is not None and args.validate:
        _ray(config, args)
    print(run_optimize(config, surrogate_dir=args.surrogate, out_file=args.out, validate=args.validate))


def cmd_export(args):
    from automixer.flows.export import run_export
    from automixer.runtime import ray_tasks

    config = _load(args)
    _ray(config, args)
    print(run_export(config, mixture_file=args.mixture, tokenizer=args.tokenizer, out_dir=args.out, fmt=args.format,
                     force=args.force, map_tasks=ray_tasks))


def cmd_report(args):
    from automixer.flows.report import run_report

    config = _load(args)
    print(run_report(config, args.out, config_path=args.config))


def _workdir(args) -> Path:
    if args.config:
        from automixer.config import load_config

        return load_config(args.config).workdir_path
    return Path(args.workdir)


def cmd_stats(args):
    from automixer.catalog import Catalog, stats_query
    from automixer.tables import format_table

    by = [k for k in args.by.split(",") if k] if args.by else ["source", "bucket"]
    sql, params = stats_query(by, args.stage)
    with Catalog(_workdir(args), read_only=True) as catalog:
        print(format_table(catalog.query(sql, params)))


def cmd_sql(args):
    from automixer.sql_sandbox import open_sandbox, run_select
    from automixer.tables import format_table

    with open_sandbox(_workdir(args)) as catalog:
        print("\n\n".join(format_table(table) for table in run_select(catalog, args.query)))


def cmd_demo(args):
    """Run every stage of the demo end to end and print each stage's wall time."""
    from automixer.demo import run_demo

    run_demo(args.config or DEMO_CONFIG, ray_address=args.ray_address, seed=args.seed)


def _add_common(p: argparse.ArgumentParser, config_required: bool = True) -> None:
    if config_required:
        p.add_argument("config", help="run config YAML")
    else:
        p.add_argument("config", nargs="?", help="run config YAML (optional)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    p.add_argument("--force", action="store_true", help="redo the stage from scratch (ignore finished work)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automixer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text, example):
        p = sub.add_parser(name, help=help_text, description=f"{help_text}\n\nExample:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    p = add("validate", cmd_validate, "Check a run config file.", "automixer validate configs/demo.yaml")
    p.add_argument("config")
    p.add_argument("--seed", type=int)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config")

    p = add("demo-data", cmd_demo_data, "Build the demo sources from the Python installation.",
            "automixer demo-data runs/demo/sources")
    p.add_argument("dir")
    p.add_argument("--seed", type=int, default=0)

    p = add(
        "curate",
        cmd_curate,
        "Ingest, filter, score and bucket the sources.",
        "automixer curate configs/demo.yaml --train-classifier",
    )
    _add_common(p)
    p.add_argument("--train-classifier", action="store_true", help="train the quality classifier first")

    p = add(
        "dedup",
        cmd_dedup,
        "Remove exact and near duplicates.",
        "automixer dedup --input docs.jsonl --output out/ --threshold 0.8",
    )
    _add_common(p, config_required=False)
    p.add_argument("--input", help="a bare JSONL or Parquet file with id and text fields")
    p.add_argument("--output", help="output folder for --input")
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--num-perm", type=int, default=128)
    p.add_argument("--ngram", type=int, default=5)

    p = add("synth", cmd_synth, "Write synthetic rewrites of selected documents.", "automixer synth configs/demo.yaml")
    _add_common(p)

    p = add("sweep", cmd_sweep, "Train one proxy model per sampled mixture.", "automixer sweep configs/demo.yaml")
    _add_common(p)
    p.add_argument(
        "--next",
        type=int,
        metavar="K",
        help="propose K new mixtures where the surrogate is uncertain or promising "
        "(one power law per objective metric, or a GP with sweep.next_model: gp)",
    )

    p = add(
        "fit",
        cmd_fit,
        "Fit surrogate regressors from mixture weights to metrics.",
        "automixer fit configs/demo.yaml --out runs/demo/surrogates",
    )
    _add_common(p, config_required=False)
    p.add_argument("--runs", help="runs table (CSV or Parquet) with mix/* and metric/* columns")
    p.add_argument("--target", action="append", help="metric/NAME to fit (repeatable)")
    p.add_argument("--out", required=True, help="output folder for the surrogates")

    p = add(
        "predict",
        cmd_predict,
        "Predict metrics for mixtures with fitted surrogates.",
        "automixer predict --surrogate runs/demo/surrogates --mixtures mixes.csv --out preds.csv",
    )
    p.add_argument("--surrogate", required=True)
    p.add_argument("--mixtures", required=True)
    p.add_argument("--out", required=True)

    p = add(
        "optimize",
        cmd_optimize,
        "Search the best mixture under constraints; write the mixture YAML.",
        "automixer optimize configs/demo.yaml --surrogate runs/demo/surrogates --out mixture.yaml",
    )
    _add_common(p, config_required=False)
    p.add_argument("--surrogate", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--validate", action="store_true", help="train proxies on the chosen, natural and uniform mixtures")

    p = add(
        "export",
        cmd_export,
        "Tokenise the mixture's components with the full run's tokenizer for Megatron-Core.",
        "automixer export configs/demo.yaml --mixture runs/demo/mixture.yaml --tokenizer tok/ --out export/",
    )
    _add_common(p)
    p.add_argument("--mixture", required=True, help="mixture YAML written by automixer optimize")
    p.add_argument("--tokenizer", required=True, help="the full run's tokenizer: tokenizers JSON file or local folder")
    p.add_argument("--out", required=True, help="output folder (indexed datasets, megatron_blend.txt, manifest)")
    p.add_argument("--format", default="megatron", choices=["megatron"], help="output format (megatron-core)")

    p = add(
        "report",
        cmd_report,
        "Write one static HTML page (with PNG figures) that shows the whole run.",
        "automixer report configs/demo.yaml   # -> runs/demo/report/index.html, open it in a browser",
    )
    p.add_argument("config", help="run config YAML")
    p.add_argument("--out", help="output folder (default <workdir>/report)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")

    for name, func, help_text, example in [
        (
            "stats",
            cmd_stats,
            "Print ledger statistics from the catalog.",
            "automixer stats -c configs/demo.yaml --by source,bucket",
        ),
        (
            "sql",
            cmd_sql,
            "Run read-only SELECT queries on the catalog and the workdir's Parquet shards (no other file, no writes).",
            'automixer sql -w runs/demo "SELECT * FROM ledger LIMIT 5"',
        ),
    ]:
        p = add(name, func, help_text, example)
        p.add_argument("-c", "--config", help="run config (its workdir holds the catalog)")
        p.add_argument("-w", "--workdir", default=".", help="workdir holding catalog.duckdb")
        if name == "stats":
            p.add_argument(
                "--by", default="source,bucket", help="comma-separated keys: stage, source, bucket, outcome, reason"
            )
            p.add_argument("--stage", help="only this stage")
        else:
            p.add_argument("query", help='SQL, e.g. "SELECT * FROM ledger"')

    p = add("demo", cmd_demo, "Run every stage on the demo config and print wall times.", "automixer demo")
    p.add_argument("config", nargs="?", help=f"run config (default {DEMO_CONFIG})")
    p.add_argument("--ray-address")
    p.add_argument("--seed", type=int, help="override the config's seed (another seed works in <workdir>-seed<N>)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AutomixerError as exc:
        print(f"automixer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
