"""Tradovate Performance / Position History CSV → closed trades (pure); the Fills
export is read by :mod:`connectors.tradovate.fills`.

- One closed trade per buy/sell pair, as Tradovate pairs its fills: a scale-out (one
  entry fill, several exits) or a scale-in gives one trade per pair, each with a
  distinct stable id ``<buy fill id>-<sell fill id>``; the same pair has the same id in
  both exports, so importing both adds each trade once.
- The side comes from which fill came first: sold before bought is a short, entered at
  the sell price and time.
- ``pnl`` is Tradovate's (``$(42.50)`` is −42.50). These exports carry no commission:
  ``commission`` is 0 and ``pnl`` is as exported.
- Times carry no zone: they are in the zone the platform displays, taken as US Central
  (``America/Chicago``, the CME's) unless ``--timezone`` says otherwise.
- Position History names the account: a file with several accounts loads the rows of
  the one equal to ``--account`` (:mod:`connectors.statements.accounts`).
"""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

from connectors.statements.accounts import choose_account
from connectors.statements.headers import Columns, find_columns
from connectors.statements.model import ParseContext, ParsedStatement, StatementMeta
from connectors.statements.tables import (
    Line,
    invalid_trade,
    merge_aliases,
    parse_wall_time,
    read_amount,
    read_quantity,
    read_some_or_report,
)
from connectors.statements.text import decode
from connectors.tradovate.fills import fills_header, parse_fills
from connectors.tradovate.wire import TradovatePair
from schemas.events import TradeEvent

CENTRAL = ZoneInfo("America/Chicago")
TIME_LAYOUTS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p")

# Tradovate's header texts per language (the platform exports in English).
HEADERS = {
    "en": {
        "account": ("Account",),
        "symbol": ("symbol", "Contract"),
        "buy_fill_id": ("buyFillId", "Buy Fill ID"),
        "sell_fill_id": ("sellFillId", "Sell Fill ID"),
        "quantity": ("qty", "Paired Qty"),
        "buy_price": ("buyPrice", "Buy Price"),
        "sell_price": ("sellPrice", "Sell Price"),
        "pnl": ("pnl", "P/L"),
        "bought_at": ("boughtTimestamp", "Bought Timestamp"),
        "sold_at": ("soldTimestamp", "Sold Timestamp"),
        "currency": ("Currency",),
    },
}
WANTED = (
    "account",
    "buy_fill_id",
    "sell_fill_id",
    "quantity",
    "buy_price",
    "sell_price",
    "pnl",
    "bought_at",
    "sold_at",
    "currency",
    "symbol",
)
REQUIRED = (*WANTED[1:9], "symbol")
_ALIASES = merge_aliases(HEADERS)


def _header(cells: list[str]) -> Columns:
    # Tradovate's texts only: the shared table would read "Timestamp" or "Product" too.
    return find_columns(cells, WANTED, aliases=_ALIASES, languages=("-",))


def sniff(text: str) -> bool:
    """Whether the first line is a Performance, Position History or Fills header."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].lower()
    return (
        ("buyfillid" in first and "sellfillid" in first)
        or ("buy fill id" in first and "sell fill id" in first and "paired qty" in first)
        or ("_action" in first and "fill id" in first and "b/s" in first)
    )


def _pair(line: Line, columns: Columns) -> TradovatePair:
    def get(name: str) -> str:
        return columns.get(line.cells, name)

    return TradovatePair(
        row=line.number,
        raw=line.raw,
        account=get("account"),
        symbol=get("symbol"),
        buy_fill_id=get("buy_fill_id"),
        sell_fill_id=get("sell_fill_id"),
        quantity=get("quantity"),
        buy_price=get("buy_price"),
        sell_price=get("sell_price"),
        pnl=get("pnl"),
        bought_at=get("bought_at"),
        sold_at=get("sold_at"),
        currency=get("currency"),
    )


def _number(text: str, column: str, *, positive: bool = False) -> float:
    try:
        value = read_quantity(text) if positive else read_amount(text)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None
    return value


def _trade(pair: TradovatePair, ctx: ParseContext, tz: tzinfo) -> TradeEvent:
    """One pair as a closed trade (``ValueError`` naming the column on bad text)."""
    if not pair.buy_fill_id or not pair.sell_fill_id:
        raise ValueError("buyFillId/sellFillId: a pair needs both fill ids")
    if not pair.symbol:
        raise ValueError("symbol: empty")
    quantity = _number(pair.quantity, "qty", positive=True)
    buy_price = _number(pair.buy_price, "buyPrice", positive=True)
    sell_price = _number(pair.sell_price, "sellPrice", positive=True)
    pnl = _number(pair.pnl, "pnl")
    times = {}
    for column, text in (("boughtTimestamp", pair.bought_at), ("soldTimestamp", pair.sold_at)):
        try:
            times[column] = parse_wall_time(text, TIME_LAYOUTS, tz)
        except ValueError as exc:
            raise ValueError(f"{column}: {exc}") from None
    bought, sold = times["boughtTimestamp"], times["soldTimestamp"]
    short = sold < bought
    entry, exit_ = (
        ((sell_price, sold), (buy_price, bought))
        if short
        else (
            (buy_price, bought),
            (sell_price, sold),
        )
    )
    try:
        return TradeEvent(
            account_id=ctx.account_id,
            broker_trade_id=f"{pair.buy_fill_id}-{pair.sell_fill_id}",
            status="closed",
            symbol=pair.symbol,
            side="short" if short else "long",
            quantity=quantity,
            entry_price=entry[0],
            entry_time=entry[1],
            exit_price=exit_[0],
            exit_time=exit_[1],
            pnl=round(pnl, 2),
            commission=0.0,
        )
    except ValueError as exc:
        raise ValueError(f"row: {invalid_trade(exc)}") from None


def parse_tradovate(data: bytes, ctx: ParseContext) -> ParsedStatement:
    """The export's closed trades (module doc)."""
    parsed = ParsedStatement()
    lines = read_some_or_report(decode(data), parsed)
    if lines is None:
        return parsed
    tz = ctx.timezone or CENTRAL
    fill_columns = fills_header(lines[0].cells)
    if fill_columns is not None:
        return parse_fills(lines[1:], fill_columns, ctx, tz)
    columns = _header(lines[0].cells)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        parsed.error(1, "header", f"missing column(s) {', '.join(missing)}", lines[0].raw)
        return parsed
    pairs = [_pair(line, columns) for line in lines[1:]]
    parsed.rows_seen = len(pairs)
    choice = choose_account((p.account for p in pairs), ctx.account_id)
    accounts = choice.accounts
    currencies = {p.currency for p in pairs if p.currency}
    parsed.meta = StatementMeta(
        broker="Tradovate",
        account_number=", ".join(accounts) or None,
        currency=currencies.pop() if len(currencies) == 1 else None,
        server_offset=None if ctx.timezone else "America/Chicago",
    )
    if choice.error is not None:
        parsed.error(None, "Account", choice.error)
        return parsed
    for pair in pairs:
        if not choice.takes(pair.account):
            parsed.skipped += 1
            continue
        try:
            trade = _trade(pair, ctx, tz)
        except ValueError as exc:
            column, _, reason = str(exc).partition(": ")
            if not reason:
                column, reason = "row", str(exc)
            parsed.error(pair.row, column, reason, pair.raw)
            continue
        parsed.add_trade(trade, pair.row)
    return parsed
