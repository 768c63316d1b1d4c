"""The generic CSV format: ``generic-csv`` (a column-mapping file, or the contract's own
field names as headers)."""

from __future__ import annotations

from connectors.generic_csv.parse import parse_generic, parse_generic_frame
from connectors.generic_csv.wire import ColumnMapping, load_mapping
from connectors.statements.frames import FrameStatement
from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.text import head_text


class GenericCsv:
    """A CSV read through a :class:`ColumnMapping`."""

    name = "generic-csv"

    def __init__(self, mapping: ColumnMapping | None = None) -> None:
        self.mapping = mapping or ColumnMapping()

    @classmethod
    def from_file(cls, text: str, filename: str) -> GenericCsv:
        return cls(load_mapping(text, filename))

    def sniff(self, head: bytes, filename: str) -> bool:
        """Recognised only when the first line holds every required mapped header."""
        first = head_text(head).lstrip("\ufeff").splitlines()[:1]
        if not first:
            return False
        headers = {
            cell.strip().strip('"') for cell in first[0].split(self.mapping.format.delimiter)
        }
        mapped = self.mapping.mapped()
        return all(
            mapped[name] in headers
            for name in ("broker_trade_id", "symbol", "side", "quantity", "entry_time")
        )

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return parse_generic(data, self.mapping, ctx)

    def parse_frame(self, data: bytes, ctx: ParseContext) -> FrameStatement:
        """The same file with its trades as one frame (the columnar import)."""
        return parse_generic_frame(data, self.mapping, ctx)


GENERIC_CSV = GenericCsv()
