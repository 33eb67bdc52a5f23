"""Reading JSON-lines files (.jsonl, .jsonl.gz) where a bad line is an error naming file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator

from dataplane.errors import InputError


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-blank line; InputError ``<path>:<line>`` on bad JSON."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{line_no}: not valid JSON: {exc.msg}") from None
