"""Plain HTML for the report page: escaped text, tables, figures, example documents, the page shell.

Everything here returns strings. No JavaScript, no external resources: the page opens from disk.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Iterable

CSS = """
body { font-family: sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 24px 48px; color: #222;
       line-height: 1.45; }
h1 { margin-top: 24px; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 40px; }
h3 { margin-top: 24px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.chosen td { font-weight: bold; background: #f5fbf2; }
figure { margin: 8px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; }
pre.doc { white-space: pre-wrap; word-break: break-word; background: #f8f8f8; border: 1px solid #e4e4e4;
          padding: 6px 8px; font-size: 12px; margin: 4px 0; max-height: 11em; overflow: auto; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.notrun { color: #8a5a00; background: #fff8e6; border-left: 4px solid #e0a800; padding: 6px 10px; }
.note { color: #555; font-size: 14px; }
nav ul { columns: 2; font-size: 15px; }
code { background: #f2f2f2; padding: 0 3px; }
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any) -> str:
    """A table cell: thousands separators for integers, 4 significant digits for floats."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:.4g}"
    return str(value)


def table(rows: list[dict], columns: list[str] | None = None, *, labels: dict[str, str] | None = None,
          highlight: str | None = None) -> str:
    """An HTML table of ``rows`` (dicts); numbers right-aligned; a truthy ``highlight`` column bolds a row."""
    if not rows:
        return '<p class="note">(no rows)</p>'
    columns = columns or list(rows[0])
    labels = labels or {}
    head = "".join(f"<th>{esc(labels.get(c, c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            cells.append(f'<td class="num">{esc(fmt(v))}</td>' if num else f"<td>{esc(fmt(v))}</td>")
        cls = ' class="chosen"' if highlight and row.get(highlight) else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(filename: str | None, caption: str) -> str:
    """An image beside the page (relative path) with a caption; nothing when no figure was drawn."""
    if not filename:
        return ""
    return (f'<figure><img src="{esc(filename)}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def para(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>"


def h3(text: str) -> str:
    return f"<h3>{esc(text)}</h3>"


def cut(text: str | None, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    text = text or ""
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} [... {len(text) - limit:,} more characters]"


def doc(text: str | None, label: str = "") -> str:
    """An example document (already cut and masked), escaped, with an optional label above it."""
    top = f'<div class="note">{esc(label)}</div>' if label else ""
    return f'{top}<pre class="doc">{esc(text)}</pre>'


def pair(left: str, right: str) -> str:
    """Two blocks side by side (a seed and its rewrite, a kept and a removed document)."""
    return f'<div class="pair"><div>{left}</div><div>{right}</div></div>'


def not_run(what: str, command: str) -> str:
    return (f'<p class="notrun">Not run yet: {esc(what)}. Run <code>{esc(command)}</code> '
            "and write the report again.</p>")


@dataclass
class Section:
    """One section of the page: ``ran`` says whether its stage has produced anything yet."""

    key: str
    title: str
    body: str
    ran: bool


def page(title: str, subtitle: str, sections: Iterable[Section]) -> str:
    """The whole page: a title, a table of contents with each section's state, the sections."""
    sections = list(sections)
    toc = "".join(f'<li><a href="#{s.key}">{esc(s.title)}</a>{"" if s.ran else " (not run yet)"}</li>'
                  for s in sections)
    parts = [f'<section id="{s.key}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{esc(title)}</h1><p class=\"note\">{esc(subtitle)}</p>"
            f"<nav><ul>{toc}</ul></nav>{''.join(parts)}</body></html>\n")
