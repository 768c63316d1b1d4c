"""OANDA transactions → contract events (pure: no clock, no I/O).

An OANDA trade is already a position with an id: ``tradeOpened`` publishes an ``open``
trade with that id; ``tradeReduced`` (a partial close) adds its realised P&L, financing
and share of the fill's commission to the trade, which stays open; ``tradesClosed``
closes it with everything it gathered. A trade the connector did not see open (opened
before its first transaction id) is seeded from ``GET …/trades/{id}``; partial closes
before that are already in the starting balance.

A fill's commission (OANDA reports it as a positive amount) is shared by the trades it
touched in proportion to their units, so it is counted once. ``pnl`` of a closed trade
= realised P&L + financing − commission, in the account currency.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from connectors.oanda.wire import AccountSummary, OrderFill, Trade, TradeReduce, TransferFunds
from schemas import BalanceEvent, TradeEvent


class OandaDataError(ValueError):
    """A transaction or response the connector cannot use; the message says which field."""


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with up to nine digits of fraction (OANDA's), in UTC."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    head, dot, rest = value.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[: min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise OandaDataError(f"time {text!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise OandaDataError(f"time {text!r} has no offset")
    return moment.astimezone(UTC)


def number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OandaDataError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise OandaDataError(f"{what}: {text!r} is not a finite number")
    return value


def symbol_of(instrument: str) -> str:
    """OANDA's ``EUR_USD`` as the ``EURUSD`` the other connectors use."""
    return instrument.replace("_", "")


def transaction_id(raw: dict[str, object]) -> int:
    value = raw.get("id")
    if not isinstance(value, str | int) or not str(value).isdigit():
        raise OandaDataError(f"transaction id {value!r} is not a number")
    return int(value)


@dataclass(slots=True)
class OpenTrade:
    """What the connector knows of an open OANDA trade."""

    trade_id: str
    instrument: str
    direction: int  # +1 long, -1 short
    units: float  # initial size, positive
    price: float
    open_time: datetime
    closed_units: float = 0.0
    exit_notional: float = 0.0
    realised: float = 0.0
    financing: float = 0.0
    commission: float = 0.0  # positive cost


Kind = Literal["new", "duplicate", "ignored"]


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    events: tuple[TradeEvent | BalanceEvent, ...] = ()


class OandaBook:
    """One OANDA account's open trades and the last transaction applied."""

    def __init__(self, account_id: str, last_transaction_id: int | None = None) -> None:
        self.account_id = account_id
        self.last_transaction_id = last_transaction_id
        self.open_trades: dict[str, OpenTrade] = {}
        self.unrealized = 0.0  # NAV − balance at the last summary

    def unknown_trades(self, raw: dict[str, object]) -> list[str]:
        """Trades a fill closes or reduces that this book has not seen opened."""
        if raw.get("type") != "ORDER_FILL":
            return []
        fill = self._fill(raw)
        touched = [*fill.trades_closed, *([fill.trade_reduced] if fill.trade_reduced else [])]
        return [t.trade_id for t in touched if t.trade_id not in self.open_trades]

    def seed(self, trade: Trade) -> None:
        """Learn a trade opened before this connector's first transaction."""
        units = number(trade.initial_units, f"trade {trade.id} initialUnits")
        self.open_trades[trade.id] = OpenTrade(
            trade_id=trade.id,
            instrument=symbol_of(trade.instrument),
            direction=1 if units > 0 else -1,
            units=abs(units),
            price=number(trade.price, f"trade {trade.id} price"),
            open_time=parse_time(trade.open_time),
        )

    def apply(self, raw: dict[str, object]) -> Outcome:
        """Apply one transaction (in id order); :class:`OandaDataError` leaves the book as
        it was apart from moving past the transaction."""
        tx_id = transaction_id(raw)
        if self.last_transaction_id is not None and tx_id <= self.last_transaction_id:
            return Outcome("duplicate")
        before = {trade_id: replace(trade) for trade_id, trade in self.open_trades.items()}
        try:
            if raw.get("type") == "ORDER_FILL":
                outcome = self._apply_fill(self._fill(raw))
            elif raw.get("type") == "TRANSFER_FUNDS":
                outcome = self._apply_transfer(raw)
            else:
                outcome = Outcome("ignored")
        except OandaDataError:
            self.open_trades = before  # a bad transaction changes no trade
            raise
        except ValidationError as exc:  # an event the contract refuses
            self.open_trades = before
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise OandaDataError(f"transaction {tx_id}: {where}: {first['msg']}") from None
        finally:
            self.last_transaction_id = tx_id
        return outcome

    @staticmethod
    def _fill(raw: dict[str, object]) -> OrderFill:
        try:
            return OrderFill.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise OandaDataError(f"ORDER_FILL {raw.get('id')!r}: {where}: {first['msg']}") from None

    def _apply_transfer(self, raw: dict[str, object]) -> Outcome:
        try:
            transfer = TransferFunds.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise OandaDataError(
                f"TRANSFER_FUNDS {raw.get('id')!r}: {where}: {first['msg']}"
            ) from None
        balance = number(transfer.account_balance, f"transaction {transfer.id} accountBalance")
        event = BalanceEvent(
            account_id=self.account_id,
            ts=parse_time(transfer.time),
            balance=round(balance, 2),
            equity=round(balance + self.unrealized, 2),  # a transfer moves no open position
        )
        return Outcome("ignored", (event,))

    def _apply_fill(self, fill: OrderFill) -> Outcome:
        where = f"ORDER_FILL {fill.id}"
        time = parse_time(fill.time)
        commission = abs(number(fill.commission, f"{where} commission"))
        parts: list[tuple[str, float]] = []
        for reduce in fill.trades_closed:
            parts.append(("closed", abs(number(reduce.units, f"{where} tradesClosed.units"))))
        if fill.trade_reduced is not None:
            parts.append(("reduced", abs(number(fill.trade_reduced.units, f"{where} units"))))
        opened_units = 0.0
        if fill.trade_opened is not None:
            opened_units = number(fill.trade_opened.units, f"{where} tradeOpened.units")
            parts.append(("opened", abs(opened_units)))
        total_units = sum(units for _, units in parts) or 1.0
        events: list[TradeEvent | BalanceEvent] = []
        for reduce in fill.trades_closed:
            trade = self._reduce(reduce, commission, total_units, where)
            del self.open_trades[trade.trade_id]
            events.append(self._closed(trade, time))
        if fill.trade_reduced is not None:
            self._reduce(fill.trade_reduced, commission, total_units, where)
        if fill.trade_opened is not None:
            opened = fill.trade_opened
            if opened_units == 0:
                raise OandaDataError(f"{where}: tradeOpened.units is 0")
            trade = OpenTrade(
                trade_id=opened.trade_id,
                instrument=symbol_of(fill.instrument),
                direction=1 if opened_units > 0 else -1,
                units=abs(opened_units),
                price=number(opened.price, f"{where} tradeOpened.price"),
                open_time=time,
                commission=commission * abs(opened_units) / total_units,
            )
            self.open_trades[trade.trade_id] = trade
            events.append(
                TradeEvent(
                    account_id=self.account_id,
                    broker_trade_id=trade.trade_id,
                    status="open",
                    symbol=trade.instrument,
                    side="long" if trade.direction > 0 else "short",
                    quantity=trade.units,
                    entry_price=trade.price,
                    entry_time=time,
                )
            )
        return Outcome("new" if events or parts else "ignored", tuple(events))

    def _reduce(
        self, reduce: TradeReduce, commission: float, total_units: float, where: str
    ) -> OpenTrade:
        trade = self.open_trades.get(reduce.trade_id)
        if trade is None:
            raise OandaDataError(f"{where}: trade {reduce.trade_id} is not known to be open")
        units = abs(number(reduce.units, f"{where} trade {reduce.trade_id} units"))
        trade.closed_units += units
        trade.exit_notional += units * number(reduce.price, f"{where} price")
        trade.realised += number(reduce.realized_pl, f"{where} realizedPL")
        trade.financing += number(reduce.financing, f"{where} financing")
        trade.commission += commission * units / total_units
        return trade

    def _closed(self, trade: OpenTrade, time: datetime) -> TradeEvent:
        exit_price = trade.exit_notional / trade.closed_units if trade.closed_units else trade.price
        return TradeEvent(
            account_id=self.account_id,
            broker_trade_id=trade.trade_id,
            status="closed",
            symbol=trade.instrument,
            side="long" if trade.direction > 0 else "short",
            quantity=trade.units,
            entry_price=trade.price,
            entry_time=min(trade.open_time, time),
            exit_price=round(exit_price, 10),
            exit_time=time,
            pnl=round(trade.realised + trade.financing - trade.commission, 2),
            commission=-round(trade.commission, 2),
            swap=round(trade.financing, 2),
        )

    def summary_event(self, summary: AccountSummary, ts: datetime) -> BalanceEvent:
        """The account's balance and NAV (equity) at ``ts``, remembered for transfers."""
        balance = number(summary.balance, "account balance")
        nav = number(summary.nav, "account NAV")
        self.unrealized = nav - balance
        return BalanceEvent(
            account_id=self.account_id, ts=ts, balance=round(balance, 2), equity=round(nav, 2)
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "last_transaction_id": self.last_transaction_id,
            "unrealized": self.unrealized,
            "open_trades": [
                {**asdict(t), "open_time": t.open_time.isoformat()}
                for t in self.open_trades.values()
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("account_id") != self.account_id:
            raise ValueError(
                f"the saved OANDA state is for account {state.get('account_id')!r}, "
                f"not {self.account_id!r}"
            )
        self.last_transaction_id = state["last_transaction_id"]
        self.unrealized = float(state.get("unrealized", 0.0))
        self.open_trades = {
            raw["trade_id"]: OpenTrade(
                **{**raw, "open_time": datetime.fromisoformat(raw["open_time"])}
            )
            for raw in state["open_trades"]
        }
