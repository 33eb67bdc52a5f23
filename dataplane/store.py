"""Parquet shard store: atomic writes and per-stage manifests.

Layout of a workdir:
    <workdir>/<stage>/<kind>/<unit>.parquet   shards (kind: kept, filtered, quarantine, duplicates, ...)
    <workdir>/<stage>/_manifest.json          which units the stage finished, with their counts

A shard is written to a temporary name and renamed, and a unit is added to the manifest only after all
its shards exist, so a reader that goes through the manifest never sees a half-written file and a
re-run skips finished units. The manifest itself is rewritten atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from dataplane.errors import InputError

_UNIT_RE = re.compile(r"[^A-Za-z0-9_.-]+")


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[str]:
    """Yield a temporary file name beside ``path``; on success it is renamed to ``path``, on error removed.

    Readers therefore see either no file or a complete one, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _create_temp(path: Path) -> str:
    """Create an empty, unique temporary file beside ``path``, readable as the umask allows.

    Not ``tempfile.mkstemp``: its files are mode 0600, so shards and reports could not be shared.
    """
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the kernel applies the umask
            return tmp
        except FileExistsError:
            continue


def ensure_dir(path: Path | str, what: str = "folder") -> Path:
    """Create the folder ``path`` (and its parents); InputError naming it when that cannot be done.

    Covers a path that is a file, one under a file, and one without write permission.
    """
    path = Path(path)
    for parent in (path, *path.parents):
        if parent.exists() and not parent.is_dir():
            where = "is" if parent == path else f"is under {parent}, which is"
            raise InputError(f"{what} {path} {where} a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot create it: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path} is not writable")
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_parquet(path: Path, table: pa.Table) -> Path:
    """Write ``table`` as a zstd Parquet file, atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)


def unit_name(text: str) -> str:
    """A file-name-safe unit name (e.g. from a source name and input path)."""
    return _UNIT_RE.sub("_", text).strip("_") or "unit"


class StageStore:
    """The shards and manifest of one stage in a workdir.

    Units are the stage's resumable pieces of work (an input file, a chunk, a proxy run). Call
    ``shard_path`` to name the files of a unit, write them with ``write_parquet``, then
    ``mark_done(unit, files, counts)``. ``done_units()`` lists finished units; ``files(kind)`` the
    finished shards of one kind.
    """

    def __init__(self, workdir: Path | str, stage: str):
        self.workdir = Path(workdir)
        self.stage = stage
        self.root = self.workdir / stage
        self.manifest_path = self.root / "_manifest.json"

    def shard_path(self, kind: str, unit: str) -> Path:
        return self.root / kind / f"{unit_name(unit)}.parquet"

    def _load(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {"stage": self.stage, "units": {}}
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def done_units(self) -> dict[str, dict[str, Any]]:
        """Finished units: name -> {"files": {kind: [relative paths]}, "counts": {...}}."""
        return self._load()["units"]

    def is_done(self, unit: str) -> bool:
        return unit in self.done_units()

    def mark_done(self, unit: str, files: dict[str, Iterable[Path]], counts: dict[str, Any] | None = None) -> None:
        """Record that ``unit`` finished and wrote ``files`` (kind -> paths). Atomic."""
        manifest = self._load()
        rel = {k: [str(Path(p).resolve().relative_to(self.root.resolve())) for p in v] for k, v in files.items()}
        manifest["units"][unit] = {"files": rel, "counts": counts or {}}
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True))

    def mark_many_done(self, entries: dict[str, tuple[dict[str, Iterable[Path]], dict[str, Any]]]) -> None:
        """Record several finished units in one manifest rewrite."""
        manifest = self._load()
        for unit, (files, counts) in entries.items():
            rel = {k: [str(Path(p).resolve().relative_to(self.root.resolve())) for p in v] for k, v in files.items()}
            manifest["units"][unit] = {"files": rel, "counts": counts or {}}
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True))

    def files(self, kind: str) -> list[Path]:
        """Finished shards of ``kind`` (e.g. "kept"), in a stable order."""
        out = []
        for unit in sorted(self.done_units().values(), key=lambda u: json.dumps(u["files"], sort_keys=True)):
            out.extend(self.root / p for p in unit["files"].get(kind, []))
        return sorted(out)

    def read(self, kind: str, columns: list[str] | None = None) -> pa.Table | None:
        """All finished shards of ``kind`` as one table, or None if there are none."""
        paths = self.files(kind)
        if not paths:
            return None
        return pa.concat_tables([pq.read_table(p, columns=columns) for p in paths], promote_options="default")

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def reset(self) -> None:
        """Forget the stage: remove manifest and shards (used by --force)."""
        import shutil

        if self.root.exists():
            shutil.rmtree(self.root)
