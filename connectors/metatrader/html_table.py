"""The rows of the tables in a MetaTrader HTML report, as lists of cell texts.

Pure. The terminal writes machine-made HTML: one ``<tr>`` per row, one ``<td>``/``<th>``
per cell, ``colspan`` for merged cells, ``class="hidden"`` cells MT5 keeps for layout.
A regular-expression scan reads it much faster than a full HTML parser (a 100,000-deal
report is tens of megabytes) and keeps each row's line number for error messages.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

_ROW_SPLIT = re.compile(r"<tr(?=[\s>])", re.IGNORECASE)
_TABLE_END = re.compile(r"</table>", re.IGNORECASE)
_CELL_START = re.compile(r"<t([dh])(?=[\s>])([^>]*)>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_COLSPAN = re.compile(r"colspan\s*=\s*[\"']?(\d+)", re.IGNORECASE)
_HIDDEN = re.compile(r"class\s*=\s*[\"']?[^\"'>]*\bhidden\b", re.IGNORECASE)
_TITLE = re.compile(r"title\s*=\s*\"([^\"]*)\"", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell's text, how many columns it spans, and its ``title`` (MT4 puts EA
    comments there)."""

    text: str
    colspan: int = 1
    header: bool = False
    title: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """One table row: its 1-based line in the file, its cells, and its raw HTML."""

    line: int
    cells: tuple[Cell, ...]
    raw: str

    @property
    def texts(self) -> list[str]:
        return [cell.text for cell in self.cells]

    def spread(self) -> list[str]:
        """Cell texts with each merged cell repeated over the columns it spans."""
        out: list[str] = []
        for cell in self.cells:
            out.extend([cell.text] * cell.colspan)
        return out

    def joined(self) -> str:
        return " ".join(text for text in self.texts if text)


def cell_text(body: str) -> str:
    """A cell's visible text: tags dropped, entities decoded, spaces collapsed."""
    if "<" not in body and "&" not in body:
        return " ".join(body.split())
    text = _TAG.sub(" ", body)
    return " ".join(html.unescape(text).replace("\u00a0", " ").split())


def _cells(chunk: str) -> list[Cell]:
    cells: list[Cell] = []
    starts = list(_CELL_START.finditer(chunk))
    for number, start in enumerate(starts):
        attrs = start.group(2)
        if attrs and _HIDDEN.search(attrs):
            continue
        end = starts[number + 1].start() if number + 1 < len(starts) else len(chunk)
        inner = chunk[start.end() : end]
        closing = inner.find("</t")  # the cell's own </td>, or the row's </tr>
        if closing >= 0:
            inner = inner[:closing]
        span = _COLSPAN.search(attrs) if attrs else None
        title = _TITLE.search(attrs) if attrs else None
        cells.append(
            Cell(
                text=cell_text(inner),
                colspan=int(span.group(1)) if span else 1,
                header=start.group(1).lower() == "h",
                title=html.unescape(title.group(1)) if title else "",
            )
        )
    return cells


def rows(document: str) -> Iterator[Row]:
    """Every ``<tr>`` of the document in order, hidden cells left out.

    The document is split at each ``<tr``; a row ends at the next row, ``</table>`` or
    the end. Splitting (rather than one regular expression over the whole page) keeps a
    100,000-deal report to a few seconds.
    """
    parts = _ROW_SPLIT.split(document)
    line = 1 + parts[0].count("\n")
    for part in parts[1:]:
        here = line
        line += part.count("\n")
        head_end = part.find(">")
        if head_end < 0:
            continue
        body = part[head_end + 1 :]
        table_end = _TABLE_END.search(body)
        if table_end:
            body = body[: table_end.start()]
        cells = _cells(body)
        if cells:
            raw = "<tr" + part[: head_end + 1] + body
            yield Row(here, tuple(cells), raw.strip())
