"""The two IBKR statement formats, as the statement registry names them."""

from __future__ import annotations

from connectors.ibkr.activity import parse_activity
from connectors.ibkr.activity import sniff as sniff_activity
from connectors.ibkr.flex import parse_flex
from connectors.ibkr.flex import sniff as sniff_flex
from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.text import head_text


class IbkrActivityCsv:
    """``ibkr-activity-csv``: the Activity Statement exported as CSV."""

    name = "ibkr-activity-csv"

    def sniff(self, head: bytes, filename: str) -> bool:
        return sniff_activity(head_text(head))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_activity(data, ctx)


class IbkrFlexXml:
    """``ibkr-flex-xml``: a Flex Query report (Trades, Cash Transactions) as XML."""

    name = "ibkr-flex-xml"

    def sniff(self, head: bytes, filename: str) -> bool:
        return sniff_flex(head_text(head))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_flex(data, ctx)


IBKR_ACTIVITY_CSV = IbkrActivityCsv()
IBKR_FLEX_XML = IbkrFlexXml()
