"""A swarm published as separate mixture and metric CSVs (like Olmix's) -> one runs table with group metrics.

Usage:
    python -m automixer.mixing.public_swarm SWARM_DIR OUT.parquet [--ratios NAME] [--metrics NAME]

SWARM_DIR holds ``dclm_ratios.csv`` (columns ``,run,name,index`` then one column per domain) and
``dclm_metrics.csv.gz`` (same first columns, then one column per task; lower is better), rows joined by
``run``. Each task goes to the first capability group whose regular expression matches its name
(``GROUPS``, the mapping of ../shared/swarms/README.md); a group's score is the mean of its tasks, written as
``metric/<group>_bpb`` (lower is better, recorded in the Parquet metadata as ``automixer.higher_is_better``
= []). Weights go to ``mix/<domain>``; rounded weights are renormalised as ``automixer fit`` would.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from automixer.mixing.columns import METRIC, MIX
from automixer.mixing.runs_table import parse_runs
from dataplane.errors import InputError
from dataplane.store import write_parquet

GROUPS: dict[str, str] = {
    "code": r"humaneval|mbpp|coding",
    "math": r"minerva_math|arithmetic|mathematics|abstract_algebra|statistics",
    "commonsense": r"hellaswag|piqa|winogrande|csqa|socialiqa|common_knowledge|logical_reasoning",
    "stem": r"arc_|sciq|medmcqa|medqa|lab_bench|mmlu_(anatomy|astronomy|college_(biology|chemistry|computer_science|"
            r"physics|medicine)|computer_security|conceptual_physics|electrical|high_school_(biology|chemistry|"
            r"computer_science|physics)|machine_learning|medical_genetics|virology|nutrition|clinical)",
}
"""Capability group -> regular expression over task names, tried in this order (first match wins)."""
SUFFIX = "_bpb"
"""Group metrics are bits-per-byte style: lower is better (the ``_bpb`` suffix says so)."""
ID_COLUMNS = ("", "run", "name", "index")


def group_of(task: str, groups: dict[str, str] = GROUPS) -> str | None:
    """The first group whose expression matches ``task`` (re.search), or None."""
    return next((g for g, pattern in groups.items() if re.search(pattern, task)), None)


def _read_csv(path: Path) -> pa.Table:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        return pcsv.read_csv(path)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: cannot read: {str(exc).splitlines()[0]}") from None


def _values(table: pa.Table, columns: list[str], path: Path) -> np.ndarray:
    out = []
    for c in columns:
        col = table.column(c)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            raise InputError(f"{path}: column {c} must be numeric, got {col.type}")
        out.append(np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False)))
    return np.column_stack(out)


def swarm_runs_table(ratios_path: Path, metrics_path: Path, groups: dict[str, str] = GROUPS) -> pa.Table:
    """The runs table (run_id, mix/*, metric/<group>_bpb) of a swarm published as two CSVs."""
    ratios, metrics = _read_csv(ratios_path), _read_csv(metrics_path)
    for path, table in ((ratios_path, ratios), (metrics_path, metrics)):
        if "run" not in table.column_names:
            raise InputError(f"{path}: no 'run' column; columns are: {', '.join(table.column_names[:8])}, ...")
    runs = [str(r) for r in ratios.column("run").to_pylist()]
    row_of = {str(r): i for i, r in enumerate(metrics.column("run").to_pylist())}
    missing = [r for r in runs if r not in row_of]
    if missing:
        raise InputError(f"{metrics_path}: no metrics for run {missing[0]!r} of {ratios_path} ({len(missing)} missing)")
    domains = [c for c in ratios.column_names if c not in ID_COLUMNS]
    tasks = [c for c in metrics.column_names if c not in ID_COLUMNS]
    X = _values(ratios, domains, ratios_path)
    Y = _values(metrics, tasks, metrics_path)[[row_of[r] for r in runs]]
    cols: dict[str, object] = {"run_id": runs}
    cols.update({MIX + d: X[:, i] for i, d in enumerate(domains)})
    for group in groups:
        members = [i for i, t in enumerate(tasks) if group_of(t, groups) == group]
        if not members:
            raise InputError(f"{metrics_path}: no task matches group {group!r} ({groups[group]})")
        cols[f"{METRIC}{group}{SUFFIX}"] = np.nanmean(Y[:, members], axis=1)
    table = pa.table(cols)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        parse_runs(table, str(ratios_path))  # the fit's own checks, now rather than at fit time
    return table.replace_schema_metadata({"automixer.higher_is_better": json.dumps([]),
                                          "automixer.groups": json.dumps(groups)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automixer.mixing.public_swarm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("swarm_dir", help="folder with the mixture and metric CSVs, e.g. ../shared/swarms/olmix-dclm")
    parser.add_argument("out", help="runs table to write (.parquet)")
    parser.add_argument("--ratios", default="dclm_ratios.csv", help="mixture CSV inside SWARM_DIR")
    parser.add_argument("--metrics", default="dclm_metrics.csv.gz", help="metric CSV inside SWARM_DIR")
    args = parser.parse_args(argv)
    folder = Path(args.swarm_dir)
    try:
        table = swarm_runs_table(folder / args.ratios, folder / args.metrics)
    except InputError as exc:
        print(f"public_swarm: error: {exc}", file=sys.stderr)
        return 2
    write_parquet(Path(args.out), table)
    metrics = [c for c in table.column_names if c.startswith(METRIC)]
    print(f"public_swarm: {table.num_rows} runs x {sum(c.startswith(MIX) for c in table.column_names)} components, "
          f"metrics {', '.join(metrics)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
