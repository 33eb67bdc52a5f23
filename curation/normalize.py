"""Text normalisation: Unicode NFC, \\n line endings, no trailing whitespace; doc_id from the result."""

from __future__ import annotations

import re
import unicodedata

import pyarrow as pa

from dataplane.schema import doc_id_for

_TRAILING_WS = re.compile(r"[ \t\f\v]+(?=\n|$)")


def normalize_text(text: str) -> str:
    """NFC, CRLF/CR -> LF, trailing whitespace of every line removed, no blank lines at either end."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_WS.sub("", text)
    return text.strip("\n")


def with_text(table: pa.Table, texts: list[str]) -> pa.Table:
    """``table`` with its text replaced and doc_id, n_bytes recomputed from the new text."""
    columns = {
        "text": pa.array(texts, pa.string()),
        "doc_id": pa.array([doc_id_for(t) for t in texts], pa.string()),
        "n_bytes": pa.array([len(t.encode("utf-8")) for t in texts], pa.int64()),
    }
    for name, column in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.append_column(name, column)
    return table


class Normalize:
    """Stage: normalise the text column; sets doc_id and n_bytes. Takes no settings."""

    def __init__(self, config: object = None):
        self.config = config

    def __call__(self, table: pa.Table) -> pa.Table:
        return with_text(table, [normalize_text(t) for t in table.column("text").to_pylist()])
