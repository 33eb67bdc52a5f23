"""Reading JSON-lines files (.jsonl, .jsonl.gz) where a bad line is an error naming file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator

from dataplane.errors import InputError


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-blank line; InputError ``<path>:<line>`` on bad JSON or bytes."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected a JSONL file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            for line_no, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"{path}:{line_no}: not UTF-8 (bad byte at offset {exc.start})") from None
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{line_no}: not valid JSON: {exc.msg}") from None
                yield line_no, value
    except (OSError, EOFError) as exc:  # missing, unreadable, or a truncated / garbage .gz
        raise InputError(f"{path}: cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
