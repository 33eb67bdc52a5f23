"""What every section of the report reads: the config, the catalog, the output folder, the stage runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from automixer.catalog import Catalog
from automixer.config import RunConfig
from automixer.mixing.mixture import Mixture
from automixer.report.html import cut
from curation.pii import PiiMasker

EXAMPLE_CHARS = 600
"""Characters of an example document shown on the page."""


@dataclass
class Context:
    config: RunConfig
    config_path: str
    """As given on the command line (named in the commands the page suggests)."""
    cat: Catalog
    out_dir: Path
    names: set[str]
    """Tables and views of the catalog."""
    runs: list[dict]
    """stage_runs rows, oldest first."""
    higher: set[str] = field(default_factory=set)
    """Metrics (without ``metric/``) where higher is better."""
    masker: PiiMasker = field(init=False)

    def __post_init__(self) -> None:
        # Shards are masked only for the sources curation masks; the page masks every example it shows.
        self.masker = PiiMasker(self.config.curation.pii, set())

    def ran(self, stage: str) -> bool:
        """Whether ``stage`` has finished at least once."""
        return any(r["stage"] == stage and r["status"] == "ok" for r in self.runs)

    def last_run(self, stage: str) -> dict | None:
        ok = [r for r in self.runs if r["stage"] == stage and r["status"] == "ok"]
        return ok[-1] if ok else None

    def command(self, stage: str) -> str:
        extra = {"fit": f" --out {self.workdir / 'surrogates'}",
                 "optimize": f" --surrogate {self.workdir / 'surrogates'} --out {self.workdir / 'mixture.yaml'}"}
        return f"automixer {stage} {self.config_path}{extra.get(stage, '')}"

    @property
    def workdir(self) -> Path:
        return self.config.workdir_path

    @property
    def mixture_path(self) -> Path:
        return self.workdir / "mixture.yaml"

    @cached_property
    def mixture(self) -> Mixture | None:
        """The optimized mixture (``<workdir>/mixture.yaml``), or None before optimize has written it."""
        return Mixture.load(self.mixture_path) if self.mixture_path.exists() else None

    @property
    def surrogate_dir(self) -> Path:
        """The surrogates the mixture was optimized with, else ``<workdir>/surrogates``."""
        mix = self.mixture
        folder = (mix.provenance or {}).get("surrogates") if mix is not None else None
        return Path(folder) if folder and Path(folder).is_dir() else self.workdir / "surrogates"

    def synthetic_components(self) -> set[str]:
        """Components made of synthetic documents (the sweep's components table, else by name)."""
        if "components" in self.names:
            found = self.cat.query("SELECT component FROM components WHERE synthetic").to_pylist()
            return {r["component"] for r in found}
        mix = self.mixture
        return {c for c in (mix.weights if mix else {}) if c.startswith("synth")}

    def example(self, text: str | None) -> str:
        """An example text cut short with its personal data masked."""
        masked, _ = self.masker.mask(text or "")
        return cut(masked, EXAMPLE_CHARS)
