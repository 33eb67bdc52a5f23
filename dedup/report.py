"""Removal report: how much dedup removed per source and quality bucket, as a table and a bar chart.

Global dedup tends to remove high-quality documents disproportionately (boilerplate-free reference
text is copied everywhere); the report makes that visible so a data engineer can pick a scope.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

REPORT_SQL = """
SELECT source, bucket,
  coalesce(sum(docs) FILTER (WHERE outcome = 'in'), 0)::BIGINT AS docs_in,
  coalesce(sum(docs) FILTER (WHERE outcome = 'kept'), 0)::BIGINT AS kept,
  coalesce(sum(docs) FILTER (WHERE outcome = 'duplicate' AND reason = 'exact'), 0)::BIGINT AS exact,
  coalesce(sum(docs) FILTER (WHERE outcome = 'duplicate' AND reason = 'near'), 0)::BIGINT AS near,
  coalesce(sum(tokens) FILTER (WHERE outcome = 'in'), 0)::BIGINT AS tokens_in,
  coalesce(sum(tokens) FILTER (WHERE outcome = 'duplicate'), 0)::BIGINT AS tokens_removed
FROM ledger GROUP BY source, bucket ORDER BY source, bucket NULLS LAST
"""


def removal_report(ledger: pa.Table) -> pa.Table:
    """Per (source, bucket): docs_in, kept, exact, near, removal_rate, tokens_in, tokens_removed."""
    con = duckdb.connect()
    con.register("ledger", ledger)
    result = con.sql(
        "SELECT *, CASE WHEN docs_in > 0 THEN (exact + near)::DOUBLE / docs_in ELSE 0.0 END AS removal_rate "
        f"FROM ({REPORT_SQL})"
    )
    # DuckDB renamed fetch_arrow_table to to_arrow_table in 2.0.
    report = (getattr(result, "to_arrow_table", None) or getattr(result, "fetch_arrow_table"))()
    con.close()
    return report


def format_report(report: pa.Table) -> str:
    """The report as a fixed-width text table with a total line."""
    rows = report.to_pylist()
    header = f"{'source':24s} {'bucket':>6s} {'docs_in':>8s} {'exact':>7s} {'near':>7s} {'removed':>8s}"
    lines = [header, "-" * len(header)]
    for r in rows:
        bucket = "-" if r["bucket"] is None else str(r["bucket"])
        lines.append(
            f"{r['source'][:24]:24s} {bucket:>6s} {r['docs_in']:8d} {r['exact']:7d} {r['near']:7d} "
            f"{r['removal_rate']:8.1%}"
        )
    total_in = sum(r["docs_in"] for r in rows)
    exact, near = sum(r["exact"] for r in rows), sum(r["near"] for r in rows)
    rate = (exact + near) / total_in if total_in else 0.0
    lines.append(f"{'total':24s} {'':>6s} {total_in:8d} {exact:7d} {near:7d} {rate:8.1%}")
    return "\n".join(lines)


def plot_removal(report: pa.Table, path: Path, title: str = "dedup removal rate") -> Path:
    """Bar chart of removal rate per quality bucket, one bar per source in each bucket group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.to_pylist()
    sources = sorted({r["source"] for r in rows})
    buckets = sorted({r["bucket"] for r in rows}, key=lambda b: (b is None, b or 0))
    rate = {(r["source"], r["bucket"]): r["removal_rate"] for r in rows}
    width = 0.8 / max(len(sources), 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(buckets) * max(1, len(sources)) ** 0.5), 3.5))
    for i, source in enumerate(sources):
        xs = [j + (i - (len(sources) - 1) / 2) * width for j in range(len(buckets))]
        ax.bar(xs, [100 * rate.get((source, b), 0.0) for b in buckets], width, label=source)
    ax.set_xticks(range(len(buckets)), [f"q{b}" if b is not None else "none" for b in buckets])
    ax.set_xlabel("quality bucket (q0 = best)")
    ax.set_ylabel("documents removed (%)")
    ax.set_title(title)
    if sources:
        ax.legend(fontsize="small")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
