"""A persistent response cache (SQLite): one answer per key of model, messages and parameters.

Only well-formed answers are stored (refusals included: they are the model's answer); transport
failures are not, so a re-run retries them. Safe for threads of one process and for several processes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

_DDL = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, content TEXT, finish_reason TEXT)"


def cache_key(model: str, messages: list[dict], params: dict) -> str:
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """``get(key)`` -> (content, finish_reason) or None; ``put(key, model, content, finish_reason)``."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(_DDL)
        self._con.commit()

    def get(self, key: str) -> tuple[str, str | None] | None:
        with self._lock:
            row = self._con.execute("SELECT content, finish_reason FROM responses WHERE key = ?", [key]).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, key: str, model: str, content: str, finish_reason: str | None) -> None:
        with self._lock:
            self._con.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", [key, model, content, finish_reason]
            )
            self._con.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._con.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._con.close()
