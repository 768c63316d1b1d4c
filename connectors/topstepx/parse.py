"""TopstepX trades CSV → closed trades (pure).

- One closed trade per row, id = TopstepX's ``Id`` (a scale-out already comes as one row
  per exit, each with its own id).
- ``commission`` = −(``Fees`` + ``Commissions``): two separate charges, each counted
  once; ``pnl`` = ``PnL`` (before costs) + ``commission``.
- Times say their own offset and are trusted; a time without one is read in
  ``--timezone``, and is an error when none is given.
- ``Type`` is ``Long`` or ``Short``. The export is per account: every row belongs to
  ``--account``.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from connectors.statements.headers import Columns, find_columns
from connectors.statements.model import ParseContext, ParsedStatement, StatementMeta
from connectors.statements.tables import (
    Line,
    invalid_trade,
    merge_aliases,
    read_amount,
    read_optional_amount,
    read_quantity,
    read_some_or_report,
    strptime,
)
from connectors.statements.text import decode
from connectors.statements.timezones import to_utc
from connectors.topstepx.wire import TopstepTrade
from schemas.events import TradeEvent

AWARE_LAYOUTS = ("%m/%d/%Y %H:%M:%S %z", "%m/%d/%Y %H:%M:%S.%f %z", "%m/%d/%Y %H:%M %z")
NAIVE_LAYOUTS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")

# TopstepX's header texts per language (the platform exports in English).
HEADERS = {
    "en": {
        "id": ("Id",),
        "contract": ("ContractName",),
        "entered_at": ("EnteredAt",),
        "exited_at": ("ExitedAt",),
        "entry_price": ("EntryPrice",),
        "exit_price": ("ExitPrice",),
        "fees": ("Fees",),
        "pnl": ("PnL",),
        "size": ("Size",),
        "type": ("Type",),
        "commissions": ("Commissions",),
    },
}
WANTED = tuple(HEADERS["en"])
REQUIRED = (
    "id",
    "contract",
    "entered_at",
    "exited_at",
    "entry_price",
    "exit_price",
    "pnl",
    "size",
    "type",
)
_ALIASES = merge_aliases(HEADERS)


def _header(cells: list[str]) -> Columns:
    return find_columns(cells, WANTED, aliases=_ALIASES, languages=("-",))


def sniff(text: str) -> bool:
    """Whether the first line is the TopstepX export header."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    cells = [cell.strip().lower() for cell in first.split(",")]
    return all(name in cells for name in ("contractname", "enteredat", "exitedat", "pnl"))


def _row(line: Line, columns: Columns) -> TopstepTrade:
    def get(name: str) -> str:
        return columns.get(line.cells, name)

    return TopstepTrade(
        row=line.number,
        raw=line.raw,
        id=get("id"),
        contract_name=get("contract"),
        entered_at=get("entered_at"),
        exited_at=get("exited_at"),
        entry_price=get("entry_price"),
        exit_price=get("exit_price"),
        fees=get("fees"),
        pnl=get("pnl"),
        size=get("size"),
        type=get("type"),
        commissions=get("commissions"),
    )


def _time(text: str, column: str, tz: tzinfo | None) -> datetime:
    try:
        return _read_time(text.strip(), tz)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def _read_time(text: str, tz: tzinfo | None) -> datetime:
    """``03/02/2026 09:31:05 -05:00`` or ISO ``2026-03-02T09:31:05-05:00`` in UTC; a time
    without an offset only with ``--timezone``."""
    read: datetime | None = None
    if "T" in text:
        try:
            read = datetime.fromisoformat(text)
        except ValueError:
            read = None
    else:
        for layout in AWARE_LAYOUTS + NAIVE_LAYOUTS:
            try:
                read = strptime(text, layout)
                break
            except ValueError:
                continue
    if read is None:
        raise ValueError(
            f"{text!r} is not a date and time (expected e.g. '03/02/2026 09:31:05 -05:00')"
        )
    if read.tzinfo is not None:
        return read.astimezone(UTC)
    if tz is None:
        raise ValueError(f"{text!r} has no UTC offset; give --timezone to read it")
    return to_utc(read, tz)


def _number(text: str, column: str, *, positive: bool = False, optional: bool = False) -> float:
    try:
        if positive:
            return read_quantity(text)
        return read_optional_amount(text) if optional else read_amount(text)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def _trade(row: TopstepTrade, ctx: ParseContext) -> TradeEvent:
    if not row.id:
        raise ValueError("Id: the trade has no id")
    if not row.contract_name:
        raise ValueError("ContractName: empty")
    side = row.type.strip().lower()
    if side not in ("long", "short"):
        raise ValueError(f"Type: {row.type!r} is neither Long nor Short")
    entered = _time(row.entered_at, "EnteredAt", ctx.timezone)
    exited = _time(row.exited_at, "ExitedAt", ctx.timezone)
    size = _number(row.size, "Size", positive=True)
    entry_price = _number(row.entry_price, "EntryPrice", positive=True)
    exit_price = _number(row.exit_price, "ExitPrice", positive=True)
    gross = _number(row.pnl, "PnL")
    costs = abs(_number(row.fees, "Fees", optional=True)) + abs(
        _number(row.commissions, "Commissions", optional=True)
    )
    commission = -round(costs, 2)
    try:
        return TradeEvent(
            account_id=ctx.account_id,
            broker_trade_id=row.id,
            status="closed",
            symbol=row.contract_name,
            side="long" if side == "long" else "short",
            quantity=size,
            entry_price=entry_price,
            entry_time=entered,
            exit_price=exit_price,
            exit_time=exited,
            pnl=round(gross + commission, 2),
            commission=commission,
        )
    except ValueError as exc:
        raise ValueError(f"row: {invalid_trade(exc)}") from None


def parse_topstepx(data: bytes, ctx: ParseContext) -> ParsedStatement:
    """The export's closed trades (module doc)."""
    parsed = ParsedStatement()
    lines = read_some_or_report(decode(data), parsed)
    if lines is None:
        return parsed
    columns = _header(lines[0].cells)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        parsed.error(1, "header", f"missing column(s) {', '.join(missing)}", lines[0].raw)
        return parsed
    parsed.meta = StatementMeta(broker="TopstepX")
    for line in lines[1:]:
        parsed.rows_seen += 1
        row = _row(line, columns)
        try:
            trade = _trade(row, ctx)
        except ValueError as exc:
            column, _, reason = str(exc).partition(": ")
            parsed.error(line.number, column, reason, line.raw)
            continue
        parsed.add_trade(trade, line.number)
    return parsed
