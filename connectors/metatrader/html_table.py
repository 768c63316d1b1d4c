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

_ROW = re.compile(r"<tr\b[^>]*>(.*?)(?=<tr\b|</table>|</tr>|\Z)", re.IGNORECASE | re.DOTALL)
_CELL = re.compile(
    r"<t([dh])\b(?P<attrs>[^>]*)>(?P<body>.*?)(?=<t[dh]\b|</tr>|</table>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]+>")
_COLSPAN = re.compile(r"colspan\s*=\s*[\"']?(\d+)", re.IGNORECASE)
_HIDDEN = re.compile(r"class\s*=\s*[\"']?[^\"'>]*\bhidden\b", re.IGNORECASE)
_TITLE = re.compile(r"title\s*=\s*\"([^\"]*)\"", re.IGNORECASE)
_CLOSE_CELL = re.compile(r"</t[dh]>\s*$", re.IGNORECASE)


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
    text = _TAG.sub(" ", _CLOSE_CELL.sub("", body))
    return " ".join(html.unescape(text).replace("\u00a0", " ").split())


def rows(document: str) -> Iterator[Row]:
    """Every ``<tr>`` of the document in order, hidden cells left out."""
    line = 1
    position = 0
    for match in _ROW.finditer(document):
        line += document.count("\n", position, match.start())
        position = match.start()
        cells: list[Cell] = []
        for cell in _CELL.finditer(match.group(1)):
            attrs = cell.group("attrs")
            if _HIDDEN.search(attrs):
                continue
            span = _COLSPAN.search(attrs)
            title = _TITLE.search(attrs)
            cells.append(
                Cell(
                    text=cell_text(cell.group("body")),
                    colspan=int(span.group(1)) if span else 1,
                    header=cell.group(1).lower() == "h",
                    title=html.unescape(title.group(1)) if title else "",
                )
            )
        if cells:
            yield Row(line, tuple(cells), match.group(0).strip())
