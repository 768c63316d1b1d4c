"""The Tradovate statement format, as the statement registry names it."""

from __future__ import annotations

from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.text import head_text
from connectors.tradovate.parse import parse_tradovate, sniff


class TradovateCsv:
    """``tradovate-csv``: the Performance or Position History export."""

    name = "tradovate-csv"

    def sniff(self, head: bytes, filename: str) -> bool:
        return sniff(head_text(head))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_tradovate(data, ctx)


TRADOVATE_CSV = TradovateCsv()
