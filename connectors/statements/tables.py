"""Shared pieces of the CSV readers: rows with their line numbers, format-specific header
texts per language, and wall-clock times in a few layouts.

Pure.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from pydantic import ValidationError

from connectors.statements.model import ParsedStatement
from connectors.statements.numbers import parse_amount
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


def read_some_or_report(
    text: str, parsed: ParsedStatement, delimiter: str = ","
) -> list[Line] | None:
    """:func:`read_or_report`, and ``None`` with a file error for a file without lines
    (the formats that need at least a header line)."""
    lines = read_or_report(text, parsed, delimiter)
    if lines is not None and not lines:
        parsed.error(None, "file", "the file is empty")
        return None
    return lines


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


_DIRECTIVES = {
    "%Y": r"(?P<Y>\d{4})",
    "%m": r"(?P<m>\d{1,2})",
    "%d": r"(?P<d>\d{1,2})",
    "%H": r"(?P<H>\d{1,2})",
    "%M": r"(?P<M>\d{1,2})",
    "%S": r"(?P<S>\d{1,2})",
    "%f": r"(?P<f>\d{1,6})",
    "%z": r"(?P<z>[+-]\d{2}:?\d{2}|Z)",
}


@lru_cache(maxsize=64)
def _pattern(layout: str) -> re.Pattern[str] | None:
    """A regular expression for a numeric layout (``%m/%d/%Y %H:%M:%S``), or ``None``
    when it uses a directive ``strptime`` must handle (``%p``, ``%b``, …)."""
    parts: list[str] = []
    position = 0
    while position < len(layout):
        if layout[position] == "%":
            directive = layout[position : position + 2]
            if directive not in _DIRECTIVES:
                return None
            parts.append(_DIRECTIVES[directive])
            position += 2
        else:
            parts.append(re.escape(layout[position]))
            position += 1
    return re.compile("".join(parts))


def strptime(text: str, layout: str) -> datetime:
    """``datetime.strptime`` for the numeric layouts statements use, several times faster
    (a compiled pattern and the constructor); other layouts go to ``strptime`` itself.
    Naive unless the layout has ``%z``. ``ValueError`` as ``strptime`` would."""
    pattern = _pattern(layout)
    if pattern is None:
        return datetime.strptime(text, layout)  # noqa: DTZ007 - the caller applies the zone
    match = pattern.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} does not match {layout!r}")
    fields = match.groupdict()
    fraction = fields.get("f")
    offset = fields.get("z")
    zone: tzinfo | None = None
    if offset is not None:
        if offset == "Z":
            zone = UTC
        else:
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return datetime(
        int(fields["Y"]),
        int(fields["m"]),
        int(fields["d"]),
        int(fields.get("H") or 0),
        int(fields.get("M") or 0),
        int(fields.get("S") or 0),
        int((fraction or "0").ljust(6, "0")),
        tzinfo=zone,
    )


def parse_wall_time(text: str, layouts: Sequence[str], tz: tzinfo) -> datetime:
    """``text`` read with the first layout that fits, as wall-clock time in ``tz``, in UTC
    (a layout with ``%z`` carries its own offset).

    ``ValueError`` quotes the text and the layouts tried.
    """
    cleaned = " ".join(text.split())
    for layout in layouts:
        try:
            read = strptime(cleaned, layout)
        except ValueError:
            continue
        return to_utc(read, tz)
    raise ValueError(f"{text!r} is not a date and time (expected e.g. {layouts[0]!r})")


_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def read_amount(text: str, *, decimal: str | None = None) -> float:
    """:func:`connectors.statements.numbers.parse_amount`, with a fast path for the plain
    ``-1234.5`` most exports write (the same value the full rules give it)."""
    stripped = text.strip()
    if decimal is None and _PLAIN_NUMBER.fullmatch(stripped):
        return float(stripped)
    return parse_amount(text, decimal=decimal)


def read_quantity(text: str, *, decimal: str | None = None) -> float:
    """A positive size (:func:`read_amount` rules, units such as ``Lots`` dropped)."""
    value = read_amount(text, decimal=decimal)
    if value <= 0:
        raise ValueError(f"{text!r} is not a number: a quantity must be positive")
    return value


def read_optional_amount(text: str, *, decimal: str | None = None) -> float:
    """:func:`read_amount`, with an empty cell (or ``-``) read as zero."""
    if text.strip() in ("", "-", "—", "–"):
        return 0.0
    return read_amount(text, decimal=decimal)


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


def errors_by_row(parsed: ParsedStatement) -> ParsedStatement:
    """``parsed`` with its errors in file order (file-level ones first): readers that
    pair fills find some errors only after reading every row."""
    parsed.errors.sort(key=lambda error: -1 if error.row is None else error.row)
    return parsed
