"""Tradovate Fills export → closed trades (pure).

Fills are paired first in first out per account and contract, as Tradovate's own
Performance report pairs them, and each pair of an opening and a closing fill is one
closed trade with id ``<buy fill id>-<sell fill id>``: the id the Performance and
Position History exports give the same pair, so a day imported from both is not
doubled. P&L = price move × quantity × the contract's point value
(:mod:`connectors.statements.contracts`, by the ``Product`` column) + the two fills'
commission shares, each fill's ``commission`` counted once. ``_timestamp`` is UTC;
without it the ``Timestamp`` column is read in the platform's zone (US Central unless
``--timezone``). Fills still open at the end are not imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from connectors.statements.accounts import choose_account
from connectors.statements.contracts import point_value
from connectors.statements.headers import Columns, find_columns
from connectors.statements.model import ParseContext, ParsedStatement, StatementMeta
from connectors.statements.roundtrips import Fill, Side, pair_fifo
from connectors.statements.tables import (
    Line,
    errors_by_row,
    invalid_trade,
    merge_aliases,
    parse_wall_time,
    read_amount,
    read_optional_amount,
    read_quantity,
)
from connectors.tradovate.wire import TradovateFill
from schemas.events import TradeEvent

HEADERS = {
    "en": {
        "fill_id": ("Fill ID", "_id"),
        "account": ("Account",),
        "contract": ("Contract",),
        "product": ("Product",),
        "side": ("B/S",),
        "quantity": ("Quantity", "_qty"),
        "price": ("Price", "_price"),
        "utc_time": ("_timestamp",),
        "local_time": ("Timestamp",),
        "commission": ("commission", "Commission"),
    },
}
WANTED = tuple(HEADERS["en"])
REQUIRED = ("fill_id", "contract", "side", "quantity", "price")
_ALIASES = merge_aliases(HEADERS)
LOCAL_LAYOUTS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")


def fills_header(cells: Sequence[str]) -> Columns | None:
    """The columns of a Fills export header, or ``None`` when it is not one."""
    columns = find_columns(cells, WANTED, aliases=_ALIASES, languages=("-",))
    if all(name in columns for name in REQUIRED) and (
        "utc_time" in columns or "local_time" in columns
    ):
        return columns
    return None


def _fill_row(line: Line, columns: Columns) -> TradovateFill:
    def get(name: str) -> str:
        return columns.get(line.cells, name)

    return TradovateFill(
        row=line.number,
        raw=line.raw,
        fill_id=get("fill_id"),
        account=get("account"),
        contract=get("contract"),
        product=get("product"),
        side=get("side"),
        quantity=get("quantity"),
        price=get("price"),
        utc_time=get("utc_time"),
        local_time=get("local_time"),
        commission=get("commission"),
    )


def _time(row: TradovateFill, tz: tzinfo) -> datetime:
    if row.utc_time:
        text = row.utc_time.strip().replace("Z", "+00:00")
        try:
            read = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"_timestamp: {row.utc_time!r} is not a UTC time") from None
        if read.tzinfo is None:
            read = read.replace(tzinfo=UTC)
        return read.astimezone(UTC)
    try:
        return parse_wall_time(row.local_time, LOCAL_LAYOUTS, tz)
    except ValueError as exc:
        raise ValueError(f"Timestamp: {exc}") from None


def _fill(row: TradovateFill, tz: tzinfo) -> Fill:
    word = row.side.strip().lower()
    if word not in ("buy", "sell"):
        raise ValueError(f"B/S: {row.side!r} is neither Buy nor Sell")
    side: Side = "buy" if word == "buy" else "sell"
    if not row.fill_id:
        raise ValueError("Fill ID: the fill has no id")
    try:
        quantity = read_quantity(row.quantity)
    except ValueError as exc:
        raise ValueError(f"Quantity: {exc}") from None
    try:
        price = read_amount(row.price)
    except ValueError as exc:
        raise ValueError(f"Price: {exc}") from None
    if price <= 0:
        raise ValueError(f"Price: {row.price!r} is not a positive price")
    try:
        commission = -abs(read_optional_amount(row.commission))
    except ValueError as exc:
        raise ValueError(f"commission: {exc}") from None
    return Fill(
        key=f"{row.account}|{row.contract}",
        symbol=row.contract,
        side=side,
        quantity=quantity,
        price=price,
        ts=_time(row, tz),
        fill_id=row.fill_id,
        commission=commission,
        row=row.row,
    )


def parse_fills(
    lines: list[Line], columns: Columns, ctx: ParseContext, tz: tzinfo
) -> ParsedStatement:
    """The Fills export's closed trades (module doc); ``lines`` are the data rows."""
    parsed = ParsedStatement()
    rows = [_fill_row(line, columns) for line in lines]
    parsed.rows_seen = len(rows)
    choice = choose_account((r.account for r in rows), ctx.account_id)
    parsed.meta = StatementMeta(
        broker="Tradovate",
        account_number=", ".join(choice.accounts) or None,
        server_offset=None if ctx.timezone else "America/Chicago",
    )
    if choice.error is not None:
        parsed.error(None, "Account", choice.error)
        return parsed
    products: dict[int, str] = {}
    fills: list[Fill] = []
    for row in rows:
        if not choice.takes(row.account):
            parsed.skipped += 1
            continue
        try:
            fills.append(_fill(row, tz))
        except ValueError as exc:
            column, _, reason = str(exc).partition(": ")
            parsed.error(row.row, column, reason, row.raw)
            continue
        products[row.row] = row.product or row.contract
    raws = {row.row: row.raw for row in rows}
    pairing = pair_fifo(fills)
    for trip in pairing.trips:
        closing = trip.closing
        product = products.get(closing.row or 0, closing.symbol)
        try:
            multiplier = point_value(product)
        except KeyError as exc:
            parsed.error(
                closing.row,
                "Product",
                f"no point value for {product!r} (root {exc.args[0]}); add it to "
                'connectors/instruments.json (kind "future")',
                raws.get(closing.row or 0, ""),
            )
            continue
        for piece in trip.pieces:
            buy, sell = (
                (piece.opening, closing) if closing.side == "sell" else (closing, piece.opening)
            )
            try:
                event = TradeEvent(
                    account_id=ctx.account_id,
                    broker_trade_id=f"{buy.fill_id}-{sell.fill_id}",
                    status="closed",
                    symbol=closing.symbol,
                    side=trip.side,
                    quantity=piece.quantity,
                    entry_price=piece.opening.price,
                    entry_time=piece.opening.ts,
                    exit_price=closing.price,
                    exit_time=closing.ts,
                    pnl=round(piece.pnl(closing, multiplier), 2),
                    commission=round(piece.commission + piece.closing_commission, 2),
                )
            except ValueError as exc:
                parsed.error(closing.row, "row", invalid_trade(exc))
                continue
            parsed.add_trade(event, closing.row)
    parsed.skipped += len(pairing.still_open)
    return errors_by_row(parsed)
