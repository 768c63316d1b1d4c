"""The TopstepX statement format, as the statement registry names it."""

from __future__ import annotations

from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.text import head_text
from connectors.topstepx.parse import parse_topstepx, sniff


class TopstepXCsv:
    """``topstepx-csv``: the TopstepX trades export."""

    name = "topstepx-csv"

    def sniff(self, head: bytes, filename: str) -> bool:
        return sniff(head_text(head))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_topstepx(data, ctx)


TOPSTEPX_CSV = TopstepXCsv()
