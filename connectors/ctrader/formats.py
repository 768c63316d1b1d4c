"""The cTrader statement format: ``ctrader-csv``."""

from __future__ import annotations

import re

from connectors.ctrader.parse import parse_ctrader
from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.text import decode, head_text

_MARK = re.compile(
    r"^\s*(deals|history)\s*,*\s*$.*?(opening direction|closing quantity)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)


class CtraderCsv:
    """cTrader statement CSV (Deals and Transactions blocks)."""

    name = "ctrader-csv"

    def sniff(self, head: bytes, filename: str) -> bool:
        return bool(_MARK.search(head_text(head)))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_ctrader(decode(data), ctx)


CTRADER_CSV = CtraderCsv()
