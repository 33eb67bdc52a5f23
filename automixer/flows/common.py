"""Helpers the fit, predict and optimize flows share: stage bookkeeping without a CONFIG, plot folder, timestamps."""

from __future__ import annotations

import contextlib
import datetime as _dt
from pathlib import Path

from automixer.stage_run import stage_run


def stage_or_nothing(config, name: str):
    """``stage_run`` with a CONFIG; a context yielding a throwaway dict without one (``--runs`` mode)."""
    return contextlib.nullcontext({}) if config is None else stage_run(config, name)


def plots_dir(config, fallback: Path) -> Path:
    """``<workdir>/plots`` with a CONFIG, else ``<fallback>/plots``."""
    return config.workdir_path / "plots" if config is not None else fallback / "plots"


def utc_now() -> str:
    """The current UTC time, to the second, ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
