"""The run config: one YAML file describes a whole run. The only YAML loader of the project.

The tree mirrors the YAML one to one; each package owns its part (curation/config.py, ...).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from automixer.mixing.config import FitConfig, OptimizeConfig
from automixer.runtime import RuntimeConfig
from automixer.sweep.config import ComponentsConfig, SweepConfig
from automixer.typed_yaml import build, to_plain
from curation.config import CurationConfig, SourceConfig
from dataplane.errors import ConfigError, InputError
from dedup.config import DedupConfig
from proxies.config import ProxyConfig
from synth.config import SynthConfig


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A whole AutoMixer run."""

    workdir: str
    """Folder of this run's shards, catalog, proxies, surrogates, mixture YAML and plots."""
    seed: int = 0
    """Seed of every random choice in the run."""
    sources: tuple[SourceConfig, ...] = ()
    """Raw data sources."""
    ray: RuntimeConfig = field(default_factory=RuntimeConfig)
    curation: CurationConfig = field(default_factory=CurationConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    components: ComponentsConfig = field(default_factory=ComponentsConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    optimize: OptimizeConfig = field(default_factory=OptimizeConfig)

    def validate(self) -> None:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"sources: duplicate source name {dupes[0]!r}")
        for i, rule in enumerate(self.synth.policy):
            unknown = [s for s in rule.sources if s not in names]
            if unknown:
                raise ValueError(
                    f"synth.policy[{i}].sources names unknown source {unknown[0]!r}; "
                    f"sources are: {', '.join(names) or '(none)'}"
                )

    @property
    def workdir_path(self) -> Path:
        return Path(self.workdir)

    def hash(self) -> str:
        """Short SHA-256 of the resolved config (stable across key order)."""
        blob = json.dumps(to_plain(self), sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:12]

    def to_yaml(self) -> str:
        return yaml.safe_dump(to_plain(self), sort_keys=False)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read, type-check and validate a run config; errors name the file and key path."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected a config YAML file")
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (bad byte 0x{raw[exc.start]:02x})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]  # a ReaderError's text has two lines
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    for key, value in (overrides or {}).items():
        data[key] = value
    if isinstance(data.get("workdir"), str):
        data = _expand_workdir(data, data["workdir"])
    return build(RunConfig, data, "", str(path))


def check_source_paths(config: RunConfig, where: str) -> None:
    """Every source's paths and globs name existing, non-empty input; ConfigError naming file and key if not."""
    from curation.ingest import resolve_paths

    for i, source in enumerate(config.sources):
        try:
            resolve_paths(source)
        except InputError as exc:
            raise ConfigError(f"{where}: sources[{i}].paths: {exc}") from None


def _expand_workdir(value: Any, workdir: str) -> Any:
    """Replace ``{workdir}`` in every string of the config (so paths can live inside the workdir)."""
    if isinstance(value, str):
        return value.replace("{workdir}", workdir)
    if isinstance(value, list):
        return [_expand_workdir(v, workdir) for v in value]
    if isinstance(value, dict):
        return {k: _expand_workdir(v, workdir) for k, v in value.items()}
    return value


def config_from_dict(data: dict[str, Any], where: str = "<dict>") -> RunConfig:
    """Build a RunConfig from a plain mapping (tests, programmatic use)."""
    return build(RunConfig, data, "", where)


def save_resolved(config: RunConfig, folder: Path) -> Path:
    """Write the resolved config beside a stage's outputs."""
    from dataplane.store import atomic_write_text

    return atomic_write_text(Path(folder) / "resolved_config.yaml", config.to_yaml())
