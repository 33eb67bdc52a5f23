"""``automixer report CONFIG [--out DIR]``: one static page that shows a whole run.

Reads the catalog (read-only), the surrogates folder and the mixture YAML; writes
``<workdir>/report/index.html`` (or ``<out>/index.html``) with its PNG figures beside it. A section whose
stage has not run says so and names the command to run. The page has no scripts and loads nothing from
the network, so it opens from disk and can be shared as a folder.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from automixer.catalog import Catalog
from automixer.config import RunConfig
from automixer.report import data_sections, mde_section, model_sections, queries
from automixer.report.context import Context
from automixer.report.html import Section, page, para
from automixer.report.provenance import provenance
from dataplane.errors import StageError
from dataplane.store import atomic_write_text

SECTIONS = (data_sections.curation, data_sections.dedup, data_sections.synth, model_sections.swarm,
            mde_section.experts, model_sections.surrogates, model_sections.mixture, model_sections.validation,
            provenance)


def run_report(config: RunConfig, out_dir: str | Path | None = None, *, config_path: str = "CONFIG") -> str:
    """Write the report page of ``config``'s workdir; return a one-line summary naming its path."""
    workdir = config.workdir_path
    if not (workdir / "catalog.duckdb").exists():
        raise StageError(f"{workdir}: no catalog.duckdb, so no stage has run yet: "
                         f"run `automixer curate {config_path}` first")
    out = Path(out_dir) if out_dir else workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    with Catalog(workdir, read_only=True) as cat:  # a catalog another command holds is a one-line error there
        names = queries.relations(cat)
        ctx = Context(config=config, config_path=config_path, cat=cat, out_dir=out, names=names,
                      runs=queries.stage_runs(cat) if "stage_runs" in names else [])
        ctx.higher = queries.higher_is_better(cat, names, list(config.fit.higher_is_better),
                                              workdir / "sweep" / "runs.parquet")
        sections = [_section(build, ctx) for build in SECTIONS]
    subtitle = f"Run config {config_path}, workdir {workdir.resolve()}, config hash {config.hash()}."
    path = atomic_write_text(out / "index.html", page("AutoMixer run report", subtitle, sections))
    missing = [s.title for s in sections if not s.ran]
    status = f"not run yet: {', '.join(missing)}" if missing else "every stage has run"
    return f"report: {len(sections) - len(missing)} of {len(sections)} sections ({status}) -> {path.resolve()}"


def _section(build, ctx: Context) -> Section:
    """One section; a catalog that cannot answer (a shard removed by hand, ...) costs that section only."""
    try:
        return build(ctx)
    except duckdb.Error as exc:
        name = build.__name__
        return Section(name, name.capitalize(), para(f"Could not read this section's data: {str(exc).splitlines()[0]}",
                                                     "notrun"), False)
