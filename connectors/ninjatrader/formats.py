"""The NinjaTrader statement format, as the statement registry names it."""

from __future__ import annotations

from connectors.ninjatrader.parse import parse_ninjatrader, sniff
from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.text import head_text


class NinjaTraderCsv:
    """``ninjatrader-csv``: the Executions or Trades grid exported as CSV."""

    name = "ninjatrader-csv"

    def sniff(self, head: bytes, filename: str) -> bool:
        return sniff(head_text(head))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_ninjatrader(data, ctx)


NINJATRADER_CSV = NinjaTraderCsv()
