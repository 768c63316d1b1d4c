"""MetaTrader 4 and 5 reports → contract trades and cash movements. Pure.

- MT4 Statement / Detailed Statement (HTML): "Closed Transactions" rows are closed
  trades (id: the ticket); ``balance`` rows are cash movements (``credit`` rows, the
  broker's loan that moves equity and not the balance, are skipped); pending
  orders that never filled (``buy limit`` … marked *cancelled* or *deleted*) and EA
  comment sub-rows are skipped (a comment sub-row becomes the trade's notes); "Open
  Trades" rows are open trades.
- MT5 Trade History Report (HTML or XLSX): each "Positions" row is one trade (id: the
  position id); a partial close is several ``out`` deals of one position and stays one
  trade, with the position's total volume, its volume-weighted close price and the
  profit, commission and swap summed, as the Positions table reports them. Deal fees
  (not in the Positions table) are added from the position's deals: its ``in`` deal is
  the deal whose order is the position id, its ``out`` deals are matched by symbol,
  opposite side, time and remaining volume. Balance-type deals (balance, charge,
  correction, bonus, …) are cash movements; ``credit`` deals are skipped. "Open
  Positions" rows are open trades.

``pnl`` is net: profit + commission + swap (+ MT4 taxes, + MT5 deal fees). Reports are
in broker server time: the context's time zone converts it (there is no offset in the
file, so one is required).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TypeVar

from pydantic import ValidationError

from connectors.metatrader.html_table import Row
from connectors.metatrader.wire import Mt4Transaction, Mt5Deal, Mt5Position
from connectors.statements.headers import section_lookup
from connectors.statements.model import (
    CashMovement,
    ParseContext,
    ParsedStatement,
    StatementMeta,
    cash_kind,
)
from connectors.statements.numbers import parse_amount, parse_optional_amount
from connectors.statements.rows import RowProblem, trade_error_reason
from connectors.statements.timezones import to_utc
from schemas.events import TradeEvent

_MT_TIME = re.compile(
    r"^(\d{4})[.\-/](\d{2})[.\-/](\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,6}))?$"
)
NO_TIMEZONE = (
    "MetaTrader reports are in broker server time and do not say its offset: give "
    "--timezone (e.g. GMT+2/+3-US, the usual MT4/MT5 broker clock, or Europe/Helsinki)"
)
CASH_TYPES = {"balance", "charge", "correction", "bonus", "deposit", "withdrawal"}
# Credit is the broker's loan on top of the balance: it moves equity, not the balance.
SKIPPED_TYPES = {"credit"}
MT5_CASH_TYPES = CASH_TYPES | {
    "commission",
    "daily commission",
    "monthly commission",
    "agent commission",
    "interest rate",
    "dividend",
    "tax",
}
SIDES = {"buy": "long", "sell": "short"}


def mt_time(text: str, where: str) -> datetime:
    """``2026.03.02 10:15:30`` (or ``10:15``, ``-`` and ``/`` separators) as naive."""
    match = _MT_TIME.match(text.strip())
    if not match:
        raise RowProblem(where, f"{text!r} is not a time like 2026.03.02 10:15:30")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        return datetime(  # noqa: DTZ001 -- server time, made aware by to_utc
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError as exc:
        raise RowProblem(where, f"{text!r} is not a valid time ({exc})") from None


def number(text: str, where: str, *, blank_is_zero: bool = True) -> float:
    try:
        if blank_is_zero:
            return parse_optional_amount(text)
        return parse_amount(text)
    except ValueError as exc:
        raise RowProblem(where, str(exc)) from None


def _price(value: float) -> float | None:
    return value if value > 0 else None


# -- MT4 -------------------------------------------------------------------------------

_MT4_SECTIONS = section_lookup(
    {
        "closed_transactions": "closed",
        "open_trades": "open",
        "working_orders": "working",
        "summary": "summary",
    }
)
_MT4_COLUMNS = (
    "ticket",
    "open_time",
    "type",
    "size",
    "item",
    "open_price",
    "stop_loss",
    "take_profit",
    "close_time",
    "close_price",
    "commission",
    "taxes",
    "swap",
    "profit",
)


def _section(row: Row, names: dict[str, str]) -> str | None:
    text = row.joined().rstrip(":").strip().lower()
    return names.get(text) if len(row.cells) <= 2 else None


def _mt4_meta(rows: Sequence[Row]) -> StatementMeta:
    account = name = currency = None
    for row in rows[:5]:
        for text in row.texts:
            key, _, value = text.partition(":")
            lowered = key.strip().lower()
            if lowered == "account":
                account = value.strip() or None
            elif lowered == "name":
                name = value.strip() or None
            elif lowered == "currency":
                currency = value.strip().upper() or None
    return StatementMeta(
        broker="MetaTrader 4", account_number=account, account_name=name, currency=currency
    )


def _is_ticket(text: str) -> bool:
    return text.isdigit()


def _mt4_row(row: Row, section: str) -> Mt4Transaction | None:
    """One MT4 transaction, or ``None`` for a pending order that never filled."""
    cells = row.cells
    ticket = cells[0].text
    kind = cells[2].text.lower() if len(cells) > 2 else ""
    open_time = mt_time(cells[1].text, "Open Time")
    if kind in CASH_TYPES:
        # ticket, time, type, comment (colspan), amount
        comment = " ".join(c.text for c in cells[3:-1]).strip()
        amount = number(cells[-1].text, "Profit", blank_is_zero=False)
        return Mt4Transaction(
            ticket, open_time, kind, 0.0, "", 0.0, 0.0, 0.0, None, 0.0, 0.0, 0.0, 0.0,
            amount, comment,
        )  # fmt: skip
    if kind in SKIPPED_TYPES:
        return None
    if kind not in SIDES:
        if any(c.text.lower() in ("cancelled", "deleted", "expired") for c in cells):
            return None
        if " " in kind and kind.split()[0] in SIDES:  # buy limit / sell stop that is open
            return None
        raise RowProblem("Type", f"unknown transaction type {kind!r}")
    texts = row.spread()
    if len(texts) < len(_MT4_COLUMNS):
        raise RowProblem("row", f"{len(texts)} cells, expected {len(_MT4_COLUMNS)}")
    values = dict(zip(_MT4_COLUMNS, texts, strict=False))
    close_text = values["close_time"]
    close_time = None
    if section == "closed" or close_text.strip():
        close_time = mt_time(close_text, "Close Time")
    return Mt4Transaction(
        ticket=ticket,
        open_time=open_time,
        type=kind,
        size=number(values["size"], "Size", blank_is_zero=False),
        item=values["item"].upper(),
        open_price=number(values["open_price"], "Price"),
        stop_loss=number(values["stop_loss"], "S / L"),
        take_profit=number(values["take_profit"], "T / P"),
        close_time=close_time,
        close_price=number(values["close_price"], "Close Price"),
        commission=number(values["commission"], "Commission"),
        taxes=number(values["taxes"], "Taxes"),
        swap=number(values["swap"], "Swap"),
        profit=number(values["profit"], "Profit"),
        comment=cells[0].title,
    )


def mt4_trade(tx: Mt4Transaction, ctx: ParseContext, tz: tzinfo) -> TradeEvent:
    """An MT4 buy/sell transaction as a contract trade (closed when it has a close time)."""
    closed = tx.close_time is not None
    return TradeEvent(
        account_id=ctx.account_id,
        broker_trade_id=tx.ticket,
        status="closed" if closed else "open",
        symbol=tx.item,
        side="long" if tx.type == "buy" else "short",
        quantity=tx.size,
        entry_price=tx.open_price,
        entry_time=to_utc(tx.open_time, tz),
        exit_price=tx.close_price if closed else None,
        exit_time=to_utc(tx.close_time, tz) if tx.close_time else None,
        pnl=round(tx.profit + tx.commission + tx.swap + tx.taxes, 10) if closed else None,
        commission=tx.commission,
        swap=tx.swap,
        stop_loss=_price(tx.stop_loss),
        take_profit=_price(tx.take_profit),
        notes=tx.comment or None,
    )


def parse_mt4(table: Iterable[Row], ctx: ParseContext) -> ParsedStatement:
    """Rows of an MT4 statement → trades, cash movements and row errors."""
    all_rows = list(table)
    parsed = ParsedStatement(meta=_mt4_meta(all_rows))
    tz = ctx.timezone
    if tz is None:
        parsed.error(None, "file", NO_TIMEZONE)
        return parsed
    section = ""
    last_trade: int | None = None
    for row in all_rows:
        found = _section(row, _MT4_SECTIONS)
        if found:
            section = found
            continue
        if section not in ("closed", "open"):
            _mt4_summary(row, parsed)
            continue
        first = row.cells[0].text
        if not _is_ticket(first):
            # header row, totals row, or an EA comment sub-row under the last trade
            comment = row.joined()
            if last_trade is not None and comment and len(row.cells) <= 2:
                parsed.skipped += 1
                parsed.rows_seen += 1
                trade = parsed.trades[last_trade]
                if not trade.notes:
                    parsed.trades[last_trade] = trade.model_copy(update={"notes": comment})
            last_trade = None
            continue
        parsed.rows_seen += 1
        last_trade = None
        try:
            tx = _mt4_row(row, section)
            if tx is None:
                parsed.skipped += 1
                continue
            if tx.type in CASH_TYPES:
                parsed.cash.append(
                    CashMovement(
                        ts=to_utc(tx.open_time, tz),
                        amount=tx.profit,
                        kind=cash_kind(tx.profit, f"{tx.type} {tx.comment}"),
                        broker_id=tx.ticket,
                        comment=tx.comment,
                        row=row.line,
                    )
                )
                continue
            parsed.add_trade(mt4_trade(tx, ctx, tz), row.line)
            last_trade = len(parsed.trades) - 1
        except RowProblem as exc:
            parsed.error(row.line, f"{section} transactions/{exc.where}", exc.reason, row.raw)
        except ValidationError as exc:
            parsed.error(row.line, f"{section} transactions", trade_error_reason(exc), row.raw)
    return parsed


def _mt4_summary(row: Row, parsed: ParsedStatement) -> None:
    texts = row.texts
    for position, text in enumerate(texts[:-1]):
        if text.rstrip(":").strip().lower() == "balance":
            try:
                balance = parse_amount(texts[position + 1])
            except ValueError:
                return
            meta = parsed.meta
            parsed.meta = StatementMeta(
                meta.broker,
                meta.account_number,
                meta.account_name,
                meta.currency,
                meta.server_offset,
                meta.period_start,
                meta.period_end,
                balance,
            )
            return


# -- MT5 -------------------------------------------------------------------------------

_MT5_SECTIONS = section_lookup(
    {
        "open_positions": "open",
        "positions": "positions",
        "orders": "orders",
        "deals": "deals",
        "working_orders": "working",
        "summary": "summary",
    }
)
_POSITION_COLUMNS = (
    "open_time",
    "position",
    "symbol",
    "type",
    "volume",
    "open_price",
    "stop_loss",
    "take_profit",
    "close_time",
    "close_price",
    "commission",
    "swap",
    "profit",
)
_OPEN_COLUMNS = (
    "open_time",
    "position",
    "symbol",
    "type",
    "volume",
    "open_price",
    "stop_loss",
    "take_profit",
    "market_price",
    "swap",
    "profit",
)
_DEAL_COLUMNS = (
    "time",
    "deal",
    "symbol",
    "type",
    "direction",
    "volume",
    "price",
    "order",
    "commission",
    "fee",
    "swap",
    "profit",
    "balance",
    "comment",
)


@dataclass(frozen=True, slots=True)
class Table5:
    """An MT5 report as plain rows: (line, section, cell texts, raw)."""

    rows: list[tuple[int, str, list[str], str]]
    meta: StatementMeta


@dataclass(slots=True)
class _Open:
    position: Mt5Position
    line: int
    closed_volume: float = 0.0
    fee: float = 0.0
    deals: list[str] = field(default_factory=list)


def _mt5_meta(rows: Iterable[list[str]]) -> StatementMeta:
    account = name = currency = company = None
    for texts in rows:
        if len(texts) < 2:
            continue
        key = texts[0].rstrip(":").strip().lower()
        value = next((t for t in texts[1:] if t), "")
        if key == "account":
            account = value.split(" ")[0] or None
            inside = re.search(r"\(([A-Z]{3})\b", value)
            currency = inside.group(1) if inside else None
        elif key == "name":
            name = value or None
        elif key == "company":
            company = value or None
    return StatementMeta(
        broker=company or "MetaTrader 5",
        account_number=account,
        account_name=name,
        currency=currency,
    )


RowT = TypeVar("RowT")


def _tag_sections(
    rows: Iterable[tuple[int, str | None, RowT]],
    head_texts: Callable[[RowT], list[str]],
    data: Callable[[RowT], tuple[list[str], str]],
) -> Table5:
    """Rows (line, the section it heads or ``None``, the row) → each data row tagged with
    the section heading above it (its ``data``: cell texts and raw text); the rows before
    the first heading are the report's head (``head_texts``), read for its meta."""
    out: list[tuple[int, str, list[str], str]] = []
    head: list[list[str]] = []
    section = ""
    for line, heading, row in rows:
        if heading:
            section = heading
            continue
        if not section:
            head.append(head_texts(row))
            continue
        texts, raw = data(row)
        out.append((line, section, texts, raw))
    return Table5(out, _mt5_meta(head))


def html_rows_mt5(table: Iterable[Row]) -> Table5:
    """Section-tagged MT5 rows from the HTML table rows."""
    return _tag_sections(
        ((row.line, _section(row, _MT5_SECTIONS), row) for row in table),
        lambda row: row.texts,
        lambda row: (row.spread(), row.raw),
    )


def _sheet_heading(filled: list[str]) -> str | None:
    """The MT5 section a worksheet row names, when it is a lone heading cell."""
    if len(filled) != 1:
        return None
    return _MT5_SECTIONS.get(filled[0].rstrip(":").strip().lower())


def sheet_rows_mt5(values: Iterable[tuple[int, list[str]]]) -> Table5:
    """Section-tagged MT5 rows from worksheet rows (row number, cell texts); empty rows
    are left out, a head row keeps its filled cells only."""
    filled_rows = ((line, texts, [t for t in texts if t]) for line, texts in values)
    return _tag_sections(
        (
            (line, _sheet_heading(filled), (texts, filled))
            for line, texts, filled in filled_rows
            if filled
        ),
        lambda row: row[1],
        lambda row: (row[0], ",".join(row[0])),
    )


def _is_data(texts: Sequence[str]) -> bool:
    return bool(texts) and _MT_TIME.match(texts[0].strip()) is not None


def _mt5_position(texts: Sequence[str]) -> Mt5Position:
    return _position(texts, _POSITION_COLUMNS, closed=True)


def _mt5_open(texts: Sequence[str]) -> Mt5Position:
    return _position(texts, _OPEN_COLUMNS, closed=False)


def _position(texts: Sequence[str], columns: Sequence[str], *, closed: bool) -> Mt5Position:
    """A Positions row (``closed``) or an Open Positions row, whose close time, close
    price and commission are not known yet."""
    v = dict(zip(columns, texts, strict=False))
    if len(texts) < len(columns):
        raise RowProblem("row", f"{len(texts)} cells, expected {len(columns)}")
    kind = v["type"].strip().lower()
    if kind not in SIDES:
        raise RowProblem("Type", f"unknown position type {v['type']!r}")
    return Mt5Position(
        open_time=mt_time(v["open_time"], "Time"),
        position=v["position"].strip(),
        symbol=v["symbol"].strip(),
        type=kind,
        volume=_volume(v["volume"]),
        open_price=number(v["open_price"], "Price", blank_is_zero=False),
        stop_loss=number(v["stop_loss"], "S / L"),
        take_profit=number(v["take_profit"], "T / P"),
        close_time=mt_time(v["close_time"], "Close Time") if closed else None,
        close_price=number(v["close_price"], "Close Price", blank_is_zero=False) if closed else 0.0,
        commission=number(v["commission"], "Commission") if closed else 0.0,
        swap=number(v["swap"], "Swap"),
        profit=number(v["profit"], "Profit"),
    )


def _volume(text: str) -> float:
    # MT5 may print "0.2 / 0.2" (closed / initial volume): the first is what traded.
    return number(text.split("/", maxsplit=1)[0], "Volume", blank_is_zero=False)


def _mt5_deal(texts: Sequence[str]) -> Mt5Deal:
    v = dict(zip(_DEAL_COLUMNS, texts, strict=False))
    if len(texts) < 12:
        raise RowProblem("row", f"{len(texts)} cells, expected {len(_DEAL_COLUMNS)}")
    kind = v["type"].strip().lower()
    balance_text = v.get("balance", "").strip()
    return Mt5Deal(
        time=mt_time(v["time"], "Time"),
        deal=v["deal"].strip(),
        symbol=v["symbol"].strip(),
        type=kind,
        direction=v["direction"].strip().lower(),
        volume=number(v["volume"], "Volume"),
        price=number(v["price"], "Price"),
        order=v["order"].strip(),
        commission=number(v["commission"], "Commission"),
        fee=number(v["fee"], "Fee"),
        swap=number(v["swap"], "Swap"),
        profit=number(v["profit"], "Profit", blank_is_zero=False),
        balance=number(balance_text, "Balance") if balance_text else None,
        comment=v.get("comment", "").strip(),
    )


def mt5_trade(
    position: Mt5Position, ctx: ParseContext, tz: tzinfo, *, fee: float = 0.0
) -> TradeEvent:
    closed = position.close_time is not None
    commission = round(position.commission + fee, 10)
    return TradeEvent(
        account_id=ctx.account_id,
        broker_trade_id=position.position,
        status="closed" if closed else "open",
        symbol=position.symbol,
        side="long" if position.type == "buy" else "short",
        quantity=position.volume,
        entry_price=position.open_price,
        entry_time=to_utc(position.open_time, tz),
        exit_price=position.close_price if closed else None,
        exit_time=to_utc(position.close_time, tz) if position.close_time else None,
        pnl=round(position.profit + commission + position.swap, 10) if closed else None,
        commission=commission,
        swap=position.swap,
        stop_loss=_price(position.stop_loss),
        take_profit=_price(position.take_profit),
    )


def _allocate_fees(
    positions: list[_Open], deals: list[tuple[int, Mt5Deal]], add_error: Callable[..., None]
) -> None:
    """Give each position its deals' fees: the ``in`` deal by order = position id, the
    ``out`` deals by symbol, opposite side, time and remaining volume (oldest first).

    Deals come in time order, so a position closed before the current deal can never
    take a later one: each (symbol, side) list is walked from the first position still
    open at the deal's time, which keeps the matching linear in practice.
    """
    by_id = {p.position.position: p for p in positions}
    lanes: dict[tuple[str, str], list[_Open]] = {}
    for p in sorted(positions, key=lambda p: p.position.open_time):
        if p.position.close_time is not None:
            lanes.setdefault((p.position.symbol, p.position.type), []).append(p)
    first_live: dict[tuple[str, str], int] = dict.fromkeys(lanes, 0)
    for line, deal in deals:
        if deal.direction == "in":
            opened = by_id.get(deal.order)
            if opened is not None:
                opened.fee += deal.fee
                opened.deals.append(deal.deal)
            continue
        if deal.direction not in ("out", "out by", "inout"):
            continue
        lane_key = (deal.symbol, "sell" if deal.type == "buy" else "buy")
        lane = lanes.get(lane_key, [])
        start = first_live.get(lane_key, 0)
        while start < len(lane) and _spent(lane[start], deal.time):
            start += 1
        first_live[lane_key] = start
        taker = _take(lane, start, deal)
        if taker is None and deal.fee:
            add_error(
                line,
                "Deals/Fee",
                f"deal {deal.deal}: no closed position of {deal.symbol} takes this out "
                f"deal, so its fee {deal.fee} is not counted",
            )


def _take(lane: list[_Open], start: int, deal: Mt5Deal) -> _Open | None:
    """The oldest position of the lane open at the deal's time with room for its volume."""
    for position in range(start, len(lane)):
        candidate = lane[position]
        held = candidate.position
        if held.open_time > deal.time:
            return None
        remaining = round(held.volume - candidate.closed_volume, 8)
        assert held.close_time is not None
        if deal.time <= held.close_time and remaining >= deal.volume - 1e-9:
            candidate.closed_volume += deal.volume
            candidate.fee += deal.fee
            candidate.deals.append(deal.deal)
            return candidate
    return None


def _spent(candidate: _Open, at: datetime) -> bool:
    """Closed before ``at``, or with no volume left to close."""
    held = candidate.position
    closed_before = held.close_time is not None and held.close_time < at
    return closed_before or held.volume - candidate.closed_volume <= 1e-9


def parse_mt5(table: Table5, ctx: ParseContext) -> ParsedStatement:
    """An MT5 Trade History Report → trades (one per position), cash movements, errors."""
    parsed = ParsedStatement(meta=table.meta)
    tz = ctx.timezone
    if tz is None:
        parsed.error(None, "file", NO_TIMEZONE)
        return parsed
    positions: list[_Open] = []
    opens: list[tuple[int, Mt5Position]] = []
    deals: list[tuple[int, Mt5Deal]] = []
    sections_seen: set[str] = set()
    for line, section, texts, raw in table.rows:
        if section not in ("positions", "deals", "open"):
            continue
        if not _is_data(texts):
            sections_seen.add(section)
            continue  # header and totals rows
        parsed.rows_seen += 1
        try:
            if section == "positions":
                positions.append(_Open(_mt5_position(texts), line))
            elif section == "open":
                opens.append((line, _mt5_open(texts)))
            else:
                deal = _mt5_deal(texts)
                if deal.type in MT5_CASH_TYPES:
                    parsed.cash.append(
                        CashMovement(
                            ts=to_utc(deal.time, tz),
                            amount=deal.profit,
                            kind=cash_kind(deal.profit, f"{deal.type} {deal.comment}"),
                            broker_id=deal.deal,
                            comment=deal.comment,
                            row=line,
                        )
                    )
                elif deal.type in SIDES:
                    deals.append((line, deal))
                    parsed.skipped += 1  # counted in its position
                elif deal.type in SKIPPED_TYPES:
                    parsed.skipped += 1
                else:
                    raise RowProblem("Type", f"unknown deal type {deal.type!r}")
        except RowProblem as exc:
            parsed.error(line, f"{section.title()}/{exc.where}", exc.reason, raw)
    if "positions" not in sections_seen and not positions and deals:
        parsed.error(None, "file", "no Positions table: save the report with positions")
    _allocate_fees(positions, deals, parsed.error)
    for opened in positions:
        try:
            parsed.add_trade(mt5_trade(opened.position, ctx, tz, fee=opened.fee), opened.line)
        except ValidationError as exc:
            parsed.error(opened.line, "Positions", trade_error_reason(exc))
    for line, position in opens:
        try:
            parsed.add_trade(mt5_trade(position, ctx, tz), line)
        except ValidationError as exc:
            parsed.error(line, "Open Positions", trade_error_reason(exc))
    return parsed
