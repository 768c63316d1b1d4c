"""MetaTrader 5 bridge batches (what ``AetherisBridge.mq5`` posts) → contract events. Pure.

A batch carries, for each position a trade transaction touched, every deal of that
position so far (the EA selects them with ``HistorySelectByPosition``), the account's
balance-type deals, and equity snapshots. The rules are the MT5 report's
(:mod:`connectors.metatrader.parse`):

- the deals of one position are one trade (id: the position id). Its ``in`` deals open
  it (volume summed, volume-weighted entry price, first time); its ``out`` / ``out_by``
  deals close it. Once the ``out`` volume reaches the ``in`` volume the trade is closed
  at the volume-weighted exit price, with ``pnl`` = profit + commission + fee + swap of
  all its deals. A partial close (less ``out`` volume) stays an open trade holding the
  remaining volume until the last ``out`` deal arrives; its realised part is counted then.
- balance-type deals (balance, charge, correction, bonus, …) are cash movements;
  ``credit`` deals are skipped (they move equity, not the balance).
- equity snapshots become balance events (balance and equity at that moment).

MT5 stamps deals in trade-server time; the EA sends the server's offset from UTC
(``TimeTradeServer() - TimeGMT()``) with each batch, and times are converted with it.
A bad deal is reported with its place in the batch (``deals[3]``) and skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.metatrader.parse import CASH_TYPES, MT5_CASH_TYPES, SKIPPED_TYPES
from connectors.statements.model import (
    CashMovement,
    ParseContext,
    ParsedStatement,
    StatementMeta,
    cash_kind,
)
from connectors.statements.rows import trade_error_reason
from schemas.events import BalanceEvent, TradeEvent

MAX_DEALS = 5_000
MAX_SNAPSHOTS = 1_000
_EPSILON = 1e-9
_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
# Free text is stored (PostgreSQL cannot hold NUL) and shown: no NUL or control characters.
_TEXT = r"^[^\x00-\x1f]*$"


def _text(limit: int) -> Any:
    return Field(max_length=limit, pattern=_TEXT)


class BridgeDeal(BaseModel):
    """One deal as the EA reads it from ``HistoryDealGet*`` (MT5's own field names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deal: _Id
    order: Annotated[str, _text(64)] = ""
    position: Annotated[str, _text(64)] = ""
    time: Annotated[int, Field(ge=0, le=10**11)]  # DEAL_TIME, trade-server seconds
    type: Annotated[str, Field(min_length=1, max_length=32, pattern=_TEXT)]  # buy | sell | …
    entry: Literal["in", "out", "inout", "out_by", ""] = ""
    symbol: Annotated[str, _text(64)] = ""
    volume: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    price: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    commission: _Finite = 0.0
    fee: _Finite = 0.0
    swap: _Finite = 0.0
    profit: _Finite = 0.0
    sl: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    tp: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    comment: Annotated[str, _text(256)] = ""


class EquitySnapshot(BaseModel):
    """``ACCOUNT_BALANCE`` and ``ACCOUNT_EQUITY`` at a trade-server time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: Annotated[int, Field(ge=0, le=10**11)]
    balance: _Finite
    equity: _Finite


class BridgeBatch(BaseModel):
    """The body the EA posts. Deals stay raw here so one bad deal cannot sink the batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
    login: Annotated[str, _text(64)] = ""
    server: Annotated[str, _text(128)] = ""
    currency: Annotated[str, _text(8)] = ""
    server_offset_seconds: Annotated[int, Field(ge=-14 * 3600, le=14 * 3600)] = 0
    deals: Annotated[list[dict[str, object]], Field(max_length=MAX_DEALS)] = Field(
        default_factory=list
    )
    equity: Annotated[list[EquitySnapshot], Field(max_length=MAX_SNAPSHOTS)] = Field(
        default_factory=list
    )


class BridgeBatchError(ValueError):
    """The body is not a bridge batch at all (not JSON, wrong envelope)."""


def read_batch(body: bytes) -> BridgeBatch:
    """The envelope, checked; :class:`BridgeBatchError` says what is wrong."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BridgeBatchError(f"the body is not JSON: {exc}") from None
    try:
        return BridgeBatch.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BridgeBatchError(f"{where}: {first['msg']}") from None


@dataclass(slots=True)
class BridgeParsed:
    """A batch as contract events: the statement shape plus the equity snapshots."""

    statement: ParsedStatement
    snapshots: list[BalanceEvent] = field(default_factory=list)


@dataclass(slots=True)
class _Position:
    deals: list[tuple[int, BridgeDeal]] = field(default_factory=list)


def _utc(server_seconds: int, offset: int) -> datetime:
    return datetime.fromtimestamp(server_seconds, UTC) - timedelta(seconds=offset)


def _vwap(deals: list[BridgeDeal]) -> tuple[float, float]:
    volume = sum(d.volume for d in deals)
    price = sum(d.volume * d.price for d in deals) / volume if volume > 0 else 0.0
    return round(volume, 8), round(price, 10)


def position_trade(
    position_id: str, deals: list[BridgeDeal], account_id: str, offset: int
) -> TradeEvent:
    """The deals of one position → one trade (module doc); ``ValueError`` says why not."""
    opening = [d for d in deals if d.entry == "in"]
    closing = [d for d in deals if d.entry in ("out", "out_by")]
    if any(d.entry == "inout" for d in deals):
        raise ValueError(
            "a reversal (inout deal) is not supported by the bridge: the position's "
            "netting reversal has to be imported from the MT5 report"
        )
    if not opening:
        raise ValueError("no opening (in) deal among the position's deals")
    symbols = {d.symbol for d in deals}
    if len(symbols) != 1:
        raise ValueError(f"deals of several symbols in one position: {sorted(symbols)}")
    sides = {d.type for d in opening}
    if len(sides) != 1 or next(iter(sides)) not in ("buy", "sell"):
        raise ValueError(f"opening deals of mixed or unknown type: {sorted(sides)}")
    in_volume, entry_price = _vwap(opening)
    out_volume, exit_price = _vwap(closing)
    if out_volume > in_volume + _EPSILON:
        raise ValueError(f"closed volume {out_volume:g} is more than the opened {in_volume:g}")
    closed = out_volume >= in_volume - _EPSILON
    commission = round(sum(d.commission + d.fee for d in deals), 10)
    swap = round(sum(d.swap for d in deals), 10)
    profit = sum(d.profit for d in deals)
    first = min(opening, key=lambda d: d.time)
    last_out = max(closing, key=lambda d: d.time) if closing else None
    return TradeEvent(
        account_id=account_id,
        broker_trade_id=position_id,
        status="closed" if closed else "open",
        symbol=first.symbol,
        side="long" if first.type == "buy" else "short",
        quantity=in_volume if closed else round(in_volume - out_volume, 8),
        entry_price=entry_price,
        entry_time=_utc(first.time, offset),
        exit_price=exit_price if closed else None,
        exit_time=_utc(last_out.time, offset) if closed and last_out else None,
        pnl=round(profit + commission + swap, 10) if closed else None,
        commission=commission,
        swap=swap,
        stop_loss=first.sl or None,
        take_profit=first.tp or None,
    )


def parse_batch(batch: BridgeBatch, ctx: ParseContext) -> BridgeParsed:
    """A checked batch → trades, cash movements, snapshots and errors (never raises)."""
    parsed = ParsedStatement(
        meta=StatementMeta(
            broker=batch.server or None,
            account_number=batch.login or None,
            currency=batch.currency.upper() or None,
        )
    )
    offset = batch.server_offset_seconds
    positions: dict[str, _Position] = {}
    for index, raw in enumerate(batch.deals):
        row = index + 1
        where = f"deals[{index}]"
        parsed.rows_seen += 1
        try:
            deal = BridgeDeal.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field_name = ".".join(str(part) for part in first["loc"])
            parsed.error(row, f"{where}.{field_name}", first["msg"], json.dumps(raw)[:200])
            continue
        kind = deal.type.strip().lower()
        if kind in SKIPPED_TYPES:
            parsed.skipped += 1
        elif kind in MT5_CASH_TYPES or kind in CASH_TYPES:
            parsed.cash.append(
                CashMovement(
                    ts=_utc(deal.time, offset),
                    amount=deal.profit,
                    kind=cash_kind(deal.profit, f"{kind} {deal.comment}"),
                    broker_id=deal.deal,
                    comment=deal.comment,
                    row=row,
                )
            )
        elif kind in ("buy", "sell"):
            if not deal.position:
                parsed.error(row, f"{where}.position", "a trade deal needs its position id")
                continue
            positions.setdefault(deal.position, _Position()).deals.append((row, deal))
        else:
            parsed.error(row, f"{where}.type", f"unknown deal type {deal.type!r}")
    for position_id, held in positions.items():
        unique = {d.deal: (row, d) for row, d in held.deals}  # a deal sent twice counts once
        deals = [d for _, d in sorted(unique.values(), key=lambda item: item[1].time)]
        first_row = min(row for row, _ in unique.values())
        try:
            parsed.add_trade(position_trade(position_id, deals, ctx.account_id, offset), first_row)
        except ValidationError as exc:
            parsed.error(first_row, f"position {position_id}", trade_error_reason(exc))
        except ValueError as exc:
            parsed.error(first_row, f"position {position_id}", str(exc))
    snapshots: list[BalanceEvent] = []
    for index, snapshot in enumerate(batch.equity):
        parsed.rows_seen += 1
        try:
            snapshots.append(
                BalanceEvent(
                    account_id=ctx.account_id,
                    ts=_utc(snapshot.time, offset),
                    balance=snapshot.balance,
                    equity=snapshot.equity,
                )
            )
        except ValidationError as exc:
            parsed.error(None, f"equity[{index}]", trade_error_reason(exc))
    snapshots.sort(key=lambda event: event.ts)
    return BridgeParsed(parsed, snapshots)
