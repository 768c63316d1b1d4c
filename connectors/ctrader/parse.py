"""A cTrader statement CSV → contract trades and cash movements. Pure.

The file holds titled blocks (``Deals``, ``Transactions``, others ignored), each a
header row then data rows, blocks separated by a blank line or the next title. The
time zone and the account currency sit inside the header names: ``Closing Time
(UTC+3)``, ``Net USD``. A zone in the header is trusted (the ``--timezone`` option is
used only when a header names none). Values may carry units and space thousands
separators: ``5 Lots``, ``1 536.11``. Dates are day first (``02/03/2026`` is 2 March),
as cTrader writes them; ISO dates (``2026-03-02``) are read too.

Each row of the Deals block is one closing deal, so a position closed in parts gives
one closed trade per part, with the id ``<position id>-<closing deal id>`` (or
``<position id>@<closing time>`` when the export has no deal-id column): stable across
re-imports. ``pnl`` is the ``Net`` column (gross + commission + swap) when present,
else computed from gross, commission and swap; commission and swap are the row's own.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime, tzinfo

from pydantic import ValidationError

from connectors.ctrader.wire import CtraderDeal, CtraderTransaction
from connectors.statements.headers import Columns, HeaderError, find_columns, section_lookup
from connectors.statements.model import (
    CashMovement,
    ParseContext,
    ParsedStatement,
    StatementMeta,
    cash_kind,
)
from connectors.statements.numbers import parse_amount, parse_optional_amount, parse_quantity
from connectors.statements.rows import RowProblem, trade_error_reason
from connectors.statements.timezones import TimezoneError, resolve_timezone, to_utc
from schemas.events import TradeEvent

BLOCKS = section_lookup({"deals": "deals", "transactions": "transactions"})
_DATE = re.compile(
    r"^(?:(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})|(?P<Y>\d{4})-(?P<M>\d{2})-(?P<D>\d{2}))"
    r"[ T](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?$"
)
DEAL_COLUMNS = (
    "closing_deal_id",
    "position",
    "symbol",
    "direction",
    "open_time",
    "close_time",
    "open_price",
    "close_price",
    "size",
    "commission",
    "swap",
    "profit",
    "net",
    "balance",
    "comment",
)
DEAL_ALIASES = {
    "position": ("id", "position id"),
    "closing_deal_id": ("closing deal id", "closing deal", "deal id"),
    "direction": ("opening direction", "direction"),
    "open_time": ("opening time", "open time"),
    "close_time": ("closing time", "close time"),
    "open_price": ("entry price", "opening price"),
    "close_price": ("closing price", "close price"),
    "size": ("closing quantity", "quantity", "volume"),
    "profit": ("gross", "gross profit"),
    "net": ("net", "net profit"),
}
TRANSACTION_COLUMNS = ("transaction_id", "time", "transaction_type", "amount", "comment")
TRANSACTION_ALIASES = {"time": ("time",), "amount": ("amount",)}


def ctrader_time(text: str, where: str) -> datetime:
    match = _DATE.match(text.strip())
    if not match:
        raise RowProblem(where, f"{text!r} is not a time like 02/03/2026 10:00:00.000")
    g = match.groupdict()
    year = int(g["y"] or g["Y"])
    month = int(g["m"] or g["M"])
    day = int(g["d"] or g["D"])
    try:
        return datetime(  # noqa: DTZ001 -- made aware by to_utc
            year,
            month,
            day,
            int(g["h"]),
            int(g["mi"]),
            int(g["s"] or 0),
            int((g["f"] or "0").ljust(6, "0")),
        )
    except ValueError as exc:
        raise RowProblem(where, f"{text!r} is not a valid time ({exc})") from None


def _amount(text: str, where: str, *, blank_is_zero: bool = True) -> float:
    try:
        return parse_optional_amount(text) if blank_is_zero else parse_amount(text)
    except ValueError as exc:
        raise RowProblem(where, str(exc)) from None


def _header_zone(columns: Columns, names: Sequence[str], fallback: tzinfo | None) -> tzinfo:
    for name in names:
        header = columns.header(name)
        if header is not None and header.note:
            try:
                return resolve_timezone(header.note)
            except TimezoneError as exc:
                raise RowProblem(header.text, str(exc)) from None
    if fallback is None:
        raise RowProblem(
            "header",
            "the time columns name no zone (e.g. 'Closing Time (UTC+3)'): give --timezone",
        )
    return fallback


def _currency(columns: Columns) -> str | None:
    for header in columns.headers:
        if header.currency:
            return header.currency
    return None


def _deal(cells: Sequence[str], c: Columns) -> CtraderDeal:
    net_text = c.get(cells, "net")
    gross_text = c.get(cells, "profit")
    try:
        size = parse_quantity(c.get(cells, "size"))
    except ValueError as exc:
        raise RowProblem("Closing Quantity", str(exc)) from None
    return CtraderDeal(
        position_id=c.get(cells, "position"),
        closing_deal_id=c.get(cells, "closing_deal_id") or None,
        symbol=c.get(cells, "symbol"),
        opening_direction=c.get(cells, "direction").lower(),
        opening_time=ctrader_time(c.get(cells, "open_time"), "Opening Time"),
        closing_time=ctrader_time(c.get(cells, "close_time"), "Closing Time"),
        entry_price=_amount(c.get(cells, "open_price"), "Entry Price", blank_is_zero=False),
        closing_price=_amount(c.get(cells, "close_price"), "Closing Price", blank_is_zero=False),
        closing_quantity=size,
        commission=_amount(c.get(cells, "commission"), "Commission"),
        swap=_amount(c.get(cells, "swap"), "Swap"),
        gross=_amount(gross_text, "Gross") if gross_text else None,
        net=_amount(net_text, "Net") if net_text else None,
        comment=c.get(cells, "comment"),
    )


def deal_trade(deal: CtraderDeal, ctx: ParseContext, tz: tzinfo) -> TradeEvent:
    if deal.opening_direction not in ("buy", "sell"):
        raise RowProblem("Opening Direction", f"{deal.opening_direction!r} is not Buy or Sell")
    if not deal.position_id:
        raise RowProblem("Position ID", "empty")
    exit_time = to_utc(deal.closing_time, tz)
    suffix = deal.closing_deal_id or "@" + exit_time.strftime("%Y%m%dT%H%M%S.%fZ")
    trade_id = f"{deal.position_id}-{suffix}" if deal.closing_deal_id else deal.position_id + suffix
    if deal.net is not None:
        pnl = deal.net
    elif deal.gross is not None:
        pnl = round(deal.gross + deal.commission + deal.swap, 10)
    else:
        raise RowProblem("Net", "neither a Net nor a Gross amount")
    return TradeEvent(
        account_id=ctx.account_id,
        broker_trade_id=trade_id,
        status="closed",
        symbol=deal.symbol,
        side="long" if deal.opening_direction == "buy" else "short",
        quantity=deal.closing_quantity,
        entry_price=deal.entry_price,
        entry_time=to_utc(deal.opening_time, tz),
        exit_price=deal.closing_price,
        exit_time=exit_time,
        pnl=pnl,
        commission=deal.commission,
        swap=deal.swap,
        notes=deal.comment or None,
    )


def _transaction(cells: Sequence[str], c: Columns) -> CtraderTransaction:
    return CtraderTransaction(
        id=c.get(cells, "transaction_id"),
        time=ctrader_time(c.get(cells, "time"), "Time"),
        type=c.get(cells, "transaction_type"),
        amount=_amount(c.get(cells, "amount"), "Amount", blank_is_zero=False),
        comment=c.get(cells, "comment"),
    )


def _meta(lines: list[tuple[int, list[str]]]) -> StatementMeta:
    values: dict[str, str] = {}
    for _, cells in lines:
        if len(cells) >= 2 and cells[0].strip():
            values[cells[0].strip().rstrip(":").lower()] = cells[1].strip()
    return StatementMeta(
        broker=values.get("broker") or "cTrader",
        account_number=values.get("account") or values.get("account id"),
        account_name=values.get("name") or values.get("trader"),
        currency=(values.get("currency") or None),
    )


def parse_ctrader(text: str, ctx: ParseContext) -> ParsedStatement:
    """The whole statement (see the module doc)."""
    rows = list(enumerate(csv.reader(io.StringIO(text)), start=1))
    parsed = ParsedStatement()
    block = ""
    columns: Columns | None = None
    zone: tzinfo | None = None
    preamble: list[tuple[int, list[str]]] = []
    for line, cells in rows:
        stripped = [cell.strip() for cell in cells]
        filled = [cell for cell in stripped if cell]
        if not filled:
            columns = None if block else columns
            continue
        title = filled[0].lower() if len(filled) == 1 else ""
        if title in BLOCKS or (len(filled) == 1 and block and columns is None):
            block = BLOCKS.get(title, "other")
            columns, zone = None, None
            continue
        if not block:
            preamble.append((line, stripped))
            continue
        if block == "other":
            continue
        raw = ",".join(cells)
        if columns is None:
            try:
                if block == "deals":
                    columns = find_columns(
                        stripped,
                        DEAL_COLUMNS,
                        required=("position", "symbol", "direction", "open_time", "close_time",
                                  "open_price", "close_price", "size"),
                        aliases=DEAL_ALIASES,
                    )  # fmt: skip
                    zone = _header_zone(columns, ("close_time", "open_time"), ctx.timezone)
                else:
                    columns = find_columns(
                        stripped,
                        TRANSACTION_COLUMNS,
                        required=("time", "amount"),
                        aliases=TRANSACTION_ALIASES,
                    )
                    zone = _header_zone(columns, ("time",), ctx.timezone)
            except (HeaderError, RowProblem) as exc:
                reason = exc.reason if isinstance(exc, RowProblem) else str(exc)
                parsed.error(line, f"{block.title()} header", reason, raw)
                block = "other"
            continue
        assert zone is not None
        parsed.rows_seen += 1
        try:
            if block == "deals":
                parsed.add_trade(deal_trade(_deal(stripped, columns), ctx, zone), line)
            else:
                tx = _transaction(stripped, columns)
                parsed.cash.append(
                    CashMovement(
                        ts=to_utc(tx.time, zone),
                        amount=tx.amount,
                        kind=cash_kind(tx.amount, f"{tx.type} {tx.comment}"),
                        broker_id=tx.id or None,
                        comment=tx.comment or tx.type,
                        row=line,
                    )
                )
        except RowProblem as exc:
            parsed.error(line, f"{block.title()}/{exc.where}", exc.reason, raw)
        except ValidationError as exc:
            parsed.error(line, block.title(), trade_error_reason(exc), raw)
    meta = _meta(preamble)
    if meta.currency is None and columns is not None:
        meta = StatementMeta(
            meta.broker, meta.account_number, meta.account_name, _currency(columns)
        )
    parsed.meta = meta
    if not parsed.rows_seen and not parsed.errors:
        parsed.error(None, "file", "no Deals or Transactions block found")
    return parsed
