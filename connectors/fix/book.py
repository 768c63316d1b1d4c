"""Fills → positions → trade and balance events (pure: no clock, no I/O).

A *trade* is a position from flat to flat on one symbol. Its first fill publishes an
``open`` trade whose ``broker_trade_id`` is that fill's ExecID; the fill that brings the
position back to flat publishes the ``closed`` trade with the same id. Fills in the same
direction scale in (average cost); fills against it scale out and realise P&L at once
(into the balance); a fill larger than the position flips it: it closes the trade and
opens a new one, with id ``<ExecID>`` of the flipping fill, for the rest.

Balance = initial balance + realised P&L − commissions (each fill's tag 12, counted once:
a flipping fill's is split between the closed and the new trade by quantity). Equity =
balance + open positions valued at the last fill price of their symbol.

Corrections (ExecType G) and cancels (H) change the fill they name; the ledger is then
rebuilt from the remaining fills, so every later trade sees the corrected numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from connectors.fix import wire
from connectors.fix.parse import FixMessageError
from connectors.fix.wire import ExecutionReport
from connectors.instruments import InstrumentError, InstrumentTable
from schemas import BalanceEvent, TradeEvent

EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Fill:
    """One executed quantity at one price; ``commission`` is its cost (positive)."""

    exec_id: str
    symbol: str
    side: Literal["buy", "sell"]
    quantity: float
    price: float
    time: datetime
    commission: float


@dataclass(slots=True)
class Position:
    """An open trade: signed direction, open size and its average cost."""

    trade_id: str
    symbol: str
    direction: int  # +1 long, -1 short
    quantity: float
    average_price: float
    entry_time: datetime
    multiplier: float
    entered_quantity: float = 0.0
    entry_notional: float = 0.0
    exit_notional: float = 0.0
    realised: float = 0.0  # gross, in the quote currency
    commission: float = 0.0  # accrued cost of its fills (positive)


@dataclass(slots=True)
class Ledger:
    """One account's open positions and balance, folded over its fills in order."""

    account_id: str
    currency: str
    initial_balance: float
    instruments: InstrumentTable
    balance: float = 0.0
    positions: dict[str, Position] = field(default_factory=dict)
    last_price: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.balance = self.initial_balance

    def multiplier_of(self, symbol: str) -> float:
        """The symbol's multiplier; :class:`InstrumentError` unless it is quoted in the
        account's currency (no conversion rates here)."""
        instrument = self.instruments.lookup(symbol)
        if instrument.quote_currency != self.currency:
            raise InstrumentError(
                f"symbol {symbol} is quoted in {instrument.quote_currency}, the account in "
                f"{self.currency}: no conversion rate is known to the drop-copy connector"
            )
        return instrument.multiplier

    def apply(self, fill: Fill) -> list[TradeEvent]:
        """Apply one fill; the trades it opens or closes, in that order."""
        multiplier = self.multiplier_of(fill.symbol)  # before any change: a bad fill moves nothing
        self.last_price[fill.symbol] = fill.price
        self.balance -= fill.commission
        direction = 1 if fill.side == "buy" else -1
        position = self.positions.get(fill.symbol)
        if position is None:
            return [self._open(fill, fill.quantity, fill.commission, multiplier, fill.exec_id)]
        if position.direction == direction:  # scale in: average cost
            total = position.quantity + fill.quantity
            position.average_price = (
                position.average_price * position.quantity + fill.price * fill.quantity
            ) / total
            position.quantity = total
            position.entered_quantity += fill.quantity
            position.entry_notional += fill.price * fill.quantity
            position.commission += fill.commission
            return []
        closing = min(fill.quantity, position.quantity)
        share = fill.commission * closing / fill.quantity
        gross = (fill.price - position.average_price) * closing * multiplier * position.direction
        position.realised += gross
        position.commission += share
        position.exit_notional += fill.price * closing
        position.quantity -= closing
        self.balance += gross
        if position.quantity > EPSILON:
            return []  # scaled out: P&L is in the balance, the trade stays open
        del self.positions[fill.symbol]
        events = [self._closed(position, fill)]
        rest = fill.quantity - closing
        if rest > EPSILON:  # flipped: the rest opens the opposite trade
            events.append(self._open(fill, rest, fill.commission - share, multiplier, fill.exec_id))
        return events

    def _open(
        self, fill: Fill, quantity: float, commission: float, multiplier: float, trade_id: str
    ) -> TradeEvent:
        position = Position(
            trade_id=trade_id,
            symbol=fill.symbol,
            direction=1 if fill.side == "buy" else -1,
            quantity=quantity,
            average_price=fill.price,
            entry_time=fill.time,
            multiplier=multiplier,
            entered_quantity=quantity,
            entry_notional=fill.price * quantity,
            commission=commission,
        )
        self.positions[fill.symbol] = position
        return TradeEvent(
            account_id=self.account_id,
            broker_trade_id=trade_id,
            status="open",
            symbol=fill.symbol,
            side="long" if position.direction > 0 else "short",
            quantity=quantity,
            entry_price=fill.price,
            entry_time=fill.time,
        )

    def _closed(self, position: Position, fill: Fill) -> TradeEvent:
        quantity = position.entered_quantity
        commission = -round(position.commission, 2)
        return TradeEvent(
            account_id=self.account_id,
            broker_trade_id=position.trade_id,
            status="closed",
            symbol=position.symbol,
            side="long" if position.direction > 0 else "short",
            quantity=quantity,
            entry_price=round(position.entry_notional / quantity, 10),
            entry_time=position.entry_time,
            exit_price=round(position.exit_notional / quantity, 10),
            # A broker clock may stamp a fill before the entry it closes: never earlier.
            exit_time=max(fill.time, position.entry_time),
            pnl=round(position.realised - position.commission, 2),
            commission=commission,
        )

    def equity(self) -> float:
        """Balance + open positions at the last fill price of their symbol."""
        floating = sum(
            (self.last_price[p.symbol] - p.average_price) * p.quantity * p.multiplier * p.direction
            for p in self.positions.values()
        )
        return self.balance + floating

    def balance_event(self, ts: datetime) -> BalanceEvent:
        return BalanceEvent(
            account_id=self.account_id,
            ts=ts,
            balance=round(self.balance, 2),
            equity=round(self.equity(), 2),
        )


Kind = Literal["new", "duplicate", "updated", "ignored"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one ExecutionReport did: the events to publish and how the sync log counts it."""

    kind: Kind
    events: tuple[TradeEvent | BalanceEvent, ...] = ()
    notes: tuple[str, ...] = ()


def fill_of(report: ExecutionReport) -> Fill:
    return Fill(
        exec_id=report.exec_id,
        symbol=report.symbol,
        side=report.side,
        quantity=report.last_qty,
        price=report.last_px,
        time=report.transact_time,
        commission=report.commission,
    )


class DropCopyBook:
    """One account's drop-copy: fills in arrival order, dedup by ExecID, what was published.

    ``handle`` is pure apart from this object's own state, which :meth:`to_state` and
    :meth:`from_state` carry across restarts.
    """

    def __init__(
        self,
        account_id: str,
        *,
        currency: str,
        initial_balance: float,
        instruments: InstrumentTable,
    ) -> None:
        self.account_id = account_id
        self.currency = currency
        self.initial_balance = initial_balance
        self.instruments = instruments
        self.fills: list[Fill] = []
        self.seen_exec_ids: set[str] = set()
        self.published: dict[tuple[str, str], TradeEvent] = {}
        # The ExecID of each correction or cancel → the ExecID of the fill it changed.
        self.corrected: dict[str, str] = {}
        self.ledger = self._new_ledger()

    def reset(self) -> None:
        """Forget everything: as new (no saved state to go back to)."""
        self.fills = []
        self.seen_exec_ids = set()
        self.published = {}
        self.corrected = {}
        self.ledger = self._new_ledger()

    def _new_ledger(self) -> Ledger:
        return Ledger(self.account_id, self.currency, self.initial_balance, self.instruments)

    def handle(self, report: ExecutionReport) -> Outcome:
        """Apply one ExecutionReport. Raises :class:`FixMessageError` or
        :class:`InstrumentError` for a report that cannot be applied (nothing changes)."""
        if report.exec_id in self.seen_exec_ids:
            resent = "a PossDup resend" if report.poss_dup else "a repeat"
            return Outcome("duplicate", notes=(f"ExecID {report.exec_id}: {resent}, skipped",))
        if report.exec_type in (wire.EXEC_TYPE_TRADE_CORRECT, wire.EXEC_TYPE_TRADE_CANCEL):
            outcome = self._adjust(report)
        else:
            fill = fill_of(report)
            try:
                trades = self.ledger.apply(fill)
            except ValidationError as exc:  # an event the contract refuses: undo the fill
                self.ledger = self._replay(self.fills)
                raise FixMessageError(f"ExecID {report.exec_id}: {_first_error(exc)}") from None
            self.fills.append(fill)
            fresh = self._remember(trades)
            outcome = Outcome("new", (*fresh, self.ledger.balance_event(fill.time)), ())
        self.seen_exec_ids.add(report.exec_id)
        return outcome

    def _replay(self, fills: Iterable[Fill]) -> Ledger:
        ledger = self._new_ledger()
        for fill in fills:
            ledger.apply(fill)
        return ledger

    def _remember(self, trades: Iterable[TradeEvent]) -> list[TradeEvent]:
        fresh: list[TradeEvent] = []
        for trade in trades:
            key = (trade.broker_trade_id, trade.status)
            if key not in self.published:
                self.published[key] = trade
                fresh.append(trade)
        return fresh

    def _adjust(self, report: ExecutionReport) -> Outcome:
        # A correction may name an earlier correction of the fill: follow it to the fill.
        ref = report.exec_ref_id
        if ref is not None:
            ref = self.corrected.get(ref, ref)
        index = next((i for i, f in enumerate(self.fills) if f.exec_id == ref), None)
        if index is None:
            raise FixMessageError(
                f"ExecID {report.exec_id}: ExecType {report.exec_type} refers to "
                f"ExecRefID {ref}, a fill this connector has not seen"
            )
        fills = list(self.fills)
        original = fills[index]
        if report.exec_type == wire.EXEC_TYPE_TRADE_CANCEL:
            del fills[index]
            what = f"fill {ref} cancelled"
        else:
            fills[index] = Fill(
                exec_id=original.exec_id,  # trade ids stay those of the original fills
                symbol=report.symbol,
                side=report.side,
                quantity=report.last_qty,
                price=report.last_px,
                time=original.time,
                commission=report.commission,
            )
            what = f"fill {ref} corrected to {report.last_qty:g} @ {report.last_px:g}"
        ledger = self._new_ledger()
        derived: list[TradeEvent] = []
        try:
            for fill in fills:
                derived.extend(ledger.apply(fill))  # raises before self changes
        except ValidationError as exc:
            raise FixMessageError(f"ExecID {report.exec_id}: {_first_error(exc)}") from None
        self.fills = fills
        self.ledger = ledger
        if ref is not None:
            self.corrected[report.exec_id] = ref
        notes = [what]
        keys = {(t.broker_trade_id, t.status) for t in derived}
        for trade in derived:
            key = (trade.broker_trade_id, trade.status)
            known = self.published.get(key)
            if known is not None and known != trade:
                notes.append(f"trade {key[0]} ({key[1]}) changed: pnl {known.pnl} → {trade.pnl}")
                self.published[key] = trade
        for trade_id, status in self.published:
            if (trade_id, status) not in keys:
                notes.append(f"trade {trade_id} ({status}) no longer exists")
        fresh = self._remember(derived)
        return Outcome(
            "updated", (*fresh, ledger.balance_event(report.transact_time)), tuple(notes)
        )

    def to_state(self) -> dict[str, Any]:
        """A JSON-ready snapshot: fills, ExecIDs seen and trades published."""
        return {
            "account_id": self.account_id,
            "fills": [{**asdict(f), "time": f.time.isoformat()} for f in self.fills],
            "seen_exec_ids": sorted(self.seen_exec_ids),
            "corrected": self.corrected,
            "published": [t.model_dump(mode="json") for t in self.published.values()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a :meth:`to_state` snapshot and rebuild the ledger from its fills."""
        if state.get("account_id") != self.account_id:
            raise ValueError(
                f"the saved drop-copy state is for account {state.get('account_id')!r}, "
                f"not {self.account_id!r}"
            )
        fills = [
            Fill(**{**raw, "time": datetime.fromisoformat(raw["time"])}) for raw in state["fills"]
        ]
        self.ledger = self._replay(fills)
        self.fills = fills
        self.seen_exec_ids = set(state["seen_exec_ids"])
        self.corrected = dict(state.get("corrected", {}))
        trades = [TradeEvent.model_validate_json(json.dumps(raw)) for raw in state["published"]]
        self.published = {(t.broker_trade_id, t.status): t for t in trades}


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
