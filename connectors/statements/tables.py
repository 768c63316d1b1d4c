"""Shared pieces of the CSV readers: rows with their line numbers, format-specific header
texts per language, and wall-clock times in a few layouts.

Pure.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from pydantic import ValidationError

from connectors.statements.model import ParsedStatement
from connectors.statements.timezones import to_utc
from schemas.parsing import describe_validation_error

LanguageAliases = Mapping[str, Mapping[str, Sequence[str]]]
"""language → canonical column name → the header texts a format writes for it."""


@dataclass(frozen=True, slots=True)
class Line:
    """One CSV record: its 1-based line number in the file, its cells, its raw text."""

    number: int
    cells: list[str]
    raw: str


class TableError(ValueError):
    """A file the CSV reader cannot go on reading (a cell over the size limit)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


MAX_CELL = 128 * 1024
"""The longest cell a statement has any reason to hold (Python's csv limit)."""


def read_lines(text: str, delimiter: str = ",") -> list[Line]:
    """Every non-empty record of ``text``; ``number`` is the line the record starts on.

    :class:`TableError` when a cell is longer than :data:`MAX_CELL` (a broken quote or a
    hostile file): the rest of the file cannot be split into records reliably.
    """
    physical = text.splitlines()
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    lines: list[Line] = []
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TableError(start, f"unreadable CSV ({exc}); is a quote left open?") from None
        end = reader.line_num
        raw = "\n".join(physical[start - 1 : end])
        if any(cell.strip() for cell in cells):
            lines.append(Line(start, cells, raw))
        start = end + 1
    return lines


def read_or_report(text: str, parsed: ParsedStatement, delimiter: str = ",") -> list[Line] | None:
    """:func:`read_lines`, or ``None`` with the file error recorded in ``parsed``."""
    try:
        return read_lines(text, delimiter)
    except TableError as exc:
        parsed.error(exc.line, "file", exc.reason)
        return None


def merge_aliases(
    table: LanguageAliases, languages: Iterable[str] | None = None
) -> dict[str, tuple[str, ...]]:
    """One ``aliases`` mapping for :func:`connectors.statements.headers.find_columns` from
    a format's per-language header texts (all languages unless ``languages`` says)."""
    merged: dict[str, list[str]] = {}
    for language in languages or table:
        for canonical, texts in table.get(language, {}).items():
            merged.setdefault(canonical, []).extend(texts)
    return {canonical: tuple(texts) for canonical, texts in merged.items()}


def parse_wall_time(text: str, layouts: Sequence[str], tz: tzinfo) -> datetime:
    """``text`` read with the first layout that fits, as wall-clock time in ``tz``, in UTC.

    ``ValueError`` quotes the text and the layouts tried.
    """
    cleaned = " ".join(text.split())
    for layout in layouts:
        try:
            naive = datetime.strptime(cleaned, layout)  # noqa: DTZ007 - zone applied below
        except ValueError:
            continue
        return to_utc(naive, tz)
    raise ValueError(f"{text!r} is not a date and time (expected e.g. {layouts[0]!r})")


def invalid_trade(exc: ValueError) -> str:
    """Why the contract refused a trade, in one line (each bad field and what is wrong)."""
    if isinstance(exc, ValidationError):
        return f"not a valid trade: {describe_validation_error(exc)}"
    return f"not a valid trade: {exc}"


def plain(number: float) -> str:
    """A quantity or price as an id part: every digit kept, no exponent, no trailing
    zeros (``18025.75``, ``5000``, ``-60``)."""
    text = f"{number:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
