"""The MetaTrader statement formats: ``mt4-html``, ``mt5-html``, ``mt5-xlsx``."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime

from connectors.metatrader.html_table import rows
from connectors.metatrader.parse import html_rows_mt5, parse_mt4, parse_mt5, sheet_rows_mt5
from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.text import decode, head_text

_MT4_MARKS = re.compile(r"closed transactions:|<title>\s*(detailed\s+)?statement", re.IGNORECASE)
_MT5_MARKS = re.compile(r"trade history report", re.IGNORECASE)


class Mt4Html:
    """MT4 Statement / Detailed Statement (HTML, ISO-8859-1 or UTF-8)."""

    name = "mt4-html"

    def sniff(self, head: bytes, filename: str) -> bool:
        text = head_text(head)
        return "<" in text and bool(_MT4_MARKS.search(text)) and not _MT5_MARKS.search(text)

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_mt4(rows(decode(data)), ctx)


class Mt5Html:
    """MT5 Trade History Report (HTML, UTF-16LE as the terminal saves it, or UTF-8)."""

    name = "mt5-html"

    def sniff(self, head: bytes, filename: str) -> bool:
        text = head_text(head)
        return "<" in text and bool(_MT5_MARKS.search(text))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_mt5(html_rows_mt5(rows(decode(data))), ctx)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y.%m.%d %H:%M:%S")
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


class Mt5Xlsx:
    """MT5 Trade History Report saved as an Excel workbook (first worksheet)."""

    name = "mt5-xlsx"

    def sniff(self, head: bytes, filename: str) -> bool:
        return head.startswith(b"PK\x03\x04") and filename.lower().endswith((".xlsx", ".xlsm"))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        from openpyxl import load_workbook  # noqa: PLC0415 -- only this format needs it

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            parsed = ParsedStatement()
            parsed.error(None, "file", f"not a readable XLSX workbook ({exc})")
            return parsed
        try:
            sheet = book.worksheets[0]

            def values() -> Iterator[tuple[int, list[str]]]:
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                    yield number, [_cell_text(value) for value in row]

            return parse_mt5(sheet_rows_mt5(values()), ctx)
        finally:
            book.close()


MT4_HTML = Mt4Html()
MT5_HTML = Mt5Html()
MT5_XLSX = Mt5Xlsx()
