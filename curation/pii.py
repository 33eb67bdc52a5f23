"""Masking of e-mail addresses, phone numbers and IPv4 addresses.

Masking runs after normalisation, so doc_id is the hash of the masked text (the text in the shards).
"""

from __future__ import annotations

import re

import pyarrow as pa

from curation.config import PiiConfig, SourceConfig
from curation.normalize import with_text

EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IP_RE = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\d.]\d)")
PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)"
    r"|(?<![\w+])\+\d{1,3}(?:[\s.-]\d{2,4}){2,4}(?!\w)"
)
KINDS = ("email", "ip", "phone")
"""Masked kinds, in the order they are applied (e-mails first: they may contain digits)."""


def pii_enabled(source: SourceConfig, config: PiiConfig) -> bool:
    """Whether a source is masked: its own ``pii`` setting, else on for config.default_domains."""
    return source.pii if source.pii is not None else source.domain in config.default_domains


class PiiMasker:
    """Stage: mask personal data in the text of the given sources; adds pii_<kind> count columns.

    Args:
        config: which kinds to mask and their replacements (a kind set to false is left alone).
        sources: names of the sources to mask; rows of other sources pass unchanged with zero counts.
    """

    def __init__(self, config: PiiConfig, sources: set[str]):
        self.sources = sources
        enabled = {"email": config.emails, "ip": config.ips, "phone": config.phones}
        patterns = {"email": (EMAIL_RE, config.email_replacement), "ip": (IP_RE, config.ip_replacement),
                    "phone": (PHONE_RE, config.phone_replacement)}
        self.rules = [(kind, *patterns[kind]) for kind in KINDS if enabled[kind]]

    def mask(self, text: str) -> tuple[str, dict[str, int]]:
        """The masked text and the number of matches per kind."""
        counts = {}
        for kind, pattern, replacement in self.rules:
            text, counts[kind] = pattern.subn(replacement, text)
        return text, counts

    def __call__(self, table: pa.Table) -> pa.Table:
        texts = table.column("text").to_pylist()
        counts = {kind: [0] * len(texts) for kind in KINDS}
        for i, (source, text) in enumerate(zip(table.column("source").to_pylist(), texts)):
            if source in self.sources:
                texts[i], found = self.mask(text)
                for kind, n in found.items():
                    counts[kind][i] = n
        table = with_text(table, texts)
        for kind in KINDS:
            table = table.append_column(f"pii_{kind}", pa.array(counts[kind], pa.int64()))
        return table
