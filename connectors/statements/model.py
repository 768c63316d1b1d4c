"""What a statement parser returns, and the protocol every statement format follows.

Pure: no I/O, no clock. A parser never raises on a bad row; it records a
:class:`RowError` (row number, where, why, the raw text) and goes on, so one broken line
never loses the rest of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Literal, Protocol

from schemas.events import TradeEvent

RAW_LIMIT = 200
"""How much of a bad row's raw text an error keeps."""

CashKind = Literal["deposit", "withdrawal", "adjustment"]


def clip(raw: str, limit: int = RAW_LIMIT) -> str:
    """The raw text cut to ``limit`` characters (with an ellipsis when cut)."""
    return raw if len(raw) <= limit else raw[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What the caller knows that the file may not say.

    ``timezone`` converts broker server-time stamps to UTC; ``None``: the file must say
    its own offset, or its times are UTC where the format says so.
    """

    account_id: str
    timezone: tzinfo | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read: 1-based row/line number in the file (``None`` for
    the file as a whole), the section/column at fault, a clear reason, the raw text."""

    row: int | None
    where: str
    reason: str
    raw: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", clip(self.raw))

    def message(self) -> str:
        at = f"row {self.row}" if self.row is not None else "file"
        where = f" ({self.where})" if self.where else ""
        return f"{at}{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class CashMovement:
    """A balance row: a deposit, withdrawal or adjustment (credit, correction, fee)."""

    ts: datetime
    amount: float
    kind: CashKind
    broker_id: str | None = None
    comment: str = ""
    row: int | None = None


def cash_kind(amount: float, comment: str = "") -> CashKind:
    """Deposit for money in, withdrawal for money out; ``adjustment`` when the comment says
    it is a correction, credit, bonus or fee rather than a transfer."""
    lowered = comment.lower()
    if any(word in lowered for word in ("adjust", "correction", "credit", "bonus", "fee")):
        return "adjustment"
    return "deposit" if amount >= 0 else "withdrawal"


@dataclass(frozen=True, slots=True)
class StatementMeta:
    """What the file says of itself; every field optional."""

    broker: str | None = None
    account_number: str | None = None
    account_name: str | None = None
    currency: str | None = None
    server_offset: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    final_balance: float | None = None


@dataclass(slots=True)
class ParsedStatement:
    """A parsed file: trades (contract events), cash movements, row errors.

    ``rows_seen`` counts the data rows the parser looked at (trades, cash rows, skipped
    and bad rows; not headers or totals). ``trade_rows`` maps a trade's index to the
    file row it came from, so later checks can report by row number.
    """

    trades: list[TradeEvent] = field(default_factory=list)
    cash: list[CashMovement] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_seen: int = 0
    meta: StatementMeta = field(default_factory=StatementMeta)
    trade_rows: list[int | None] = field(default_factory=list)
    skipped: int = 0

    def add_trade(self, trade: TradeEvent, row: int | None) -> None:
        self.trades.append(trade)
        self.trade_rows.append(row)

    def error(self, row: int | None, where: str, reason: str, raw: str = "") -> None:
        self.errors.append(RowError(row, where, reason, raw))


class StatementFormat(Protocol):
    """One statement layout: recognise it (``sniff``) and read it (``parse``)."""

    @property
    def name(self) -> str: ...

    def sniff(self, head: bytes, filename: str) -> bool:
        """Whether ``head`` (the file's first few KiB) looks like this format."""
        ...

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        """The whole file → trades, cash movements and row errors (never raises on rows)."""
        ...
