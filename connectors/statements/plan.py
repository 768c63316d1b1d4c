"""What an import will do, decided from the parsed file and what is stored. Pure.

- Repeats inside the file: a trade id seen again with the same content is a duplicate;
  with different content (and the same status) it is an error naming both rows.
- Against the database: a trade not stored is **new**; a stored closed trade is a
  **duplicate**; a stored open trade that the file shows closed is **updated**; a
  stored open trade still open is a duplicate. A cash movement whose key is stored is
  a duplicate, else new.
- The running balance: it starts at the last stored balance at or before the first new
  event; without one, at 0 when the first new event is a deposit (the statement starts
  with the account's funding), else at the account's initial balance. Each new cash
  movement and each newly closed trade (new or updated) moves it, and gives one balance
  event at its time with equity = balance (a statement has no floating P&L; open
  trades change neither).
- Events go out in event-time order (a closed trade's exit time, an open trade's entry
  time, a cash movement's time; cash first at equal times, then file order), each
  trade followed by the balance event it causes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Literal

from connectors.statements.model import CashMovement, RowError
from schemas.events import BalanceEvent, TradeEvent

Outcome = Literal["new", "updated", "duplicate"]


def cash_key(movement: CashMovement) -> str:
    """The broker's id for the row, else a digest of its time, amount and comment."""
    if movement.broker_id:
        return f"id:{movement.broker_id}"
    text = f"{movement.ts.isoformat()}|{movement.amount!r}|{movement.comment}"
    return "sha1:" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class TradeRow:
    """A parsed trade with the file row it came from."""

    trade: TradeEvent
    row: int | None


@dataclass(slots=True)
class Plan:
    """The outcome of :func:`plan`."""

    trades: dict[Outcome, list[TradeRow]] = field(
        default_factory=lambda: {"new": [], "updated": [], "duplicate": []}
    )
    cash_new: list[CashMovement] = field(default_factory=list)
    cash_duplicate: list[CashMovement] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    events: list[TradeEvent | BalanceEvent] = field(default_factory=list)
    balances: list[BalanceEvent] = field(default_factory=list)
    start_balance: float | None = None

    @property
    def to_store(self) -> list[TradeEvent]:
        return [r.trade for r in self.trades["new"] + self.trades["updated"]]


def split_repeats(rows: list[TradeRow]) -> tuple[list[TradeRow], list[TradeRow], list[RowError]]:
    """(first occurrences, exact repeats, conflicting repeats as errors)."""
    first: dict[tuple[str, str], TradeRow] = {}
    unique: list[TradeRow] = []
    repeats: list[TradeRow] = []
    errors: list[RowError] = []
    for item in rows:
        key = (item.trade.broker_trade_id, item.trade.status)
        seen = first.get(key)
        if seen is None:
            first[key] = item
            unique.append(item)
        elif seen.trade == item.trade:
            repeats.append(item)
        else:
            errors.append(
                RowError(
                    item.row,
                    "trade id",
                    f"trade {item.trade.broker_trade_id!r} appears again with other values "
                    f"(first at row {seen.row}); the first one is kept",
                )
            )
    return unique, repeats, errors


_TICK_FIELDS_SET = frozenset(("account_id", "ts", "balance", "equity"))


class _TickMaker:
    """The balance event at ``ts``. When the model would take the values as they are (a
    valid account id, checked once; a time already in UTC; a finite float), it is built
    without running the validation again (a million closed trades give a million ticks);
    anything else goes through the model."""

    def __init__(self, account_id: str) -> None:
        self._account_id = account_id
        try:
            BalanceEvent(
                account_id=account_id, ts=datetime(2000, 1, 1, tzinfo=UTC), balance=0.0, equity=0.0
            )
            self._trusted = True
        except ValueError:
            self._trusted = False

    def __call__(self, account_id: str, ts: datetime, balance: float) -> BalanceEvent:
        if (
            self._trusted
            and account_id == self._account_id
            and ts.tzinfo is UTC
            and type(balance) is float
            and math.isfinite(balance)
        ):
            return BalanceEvent.model_construct(
                set(_TICK_FIELDS_SET), account_id=account_id, ts=ts, balance=balance, equity=balance
            )
        return BalanceEvent(account_id=account_id, ts=ts, balance=balance, equity=balance)


def plan(
    trades: list[TradeRow],
    cash: list[CashMovement],
    *,
    account_id: str,
    stored_status: Mapping[str, str],
    stored_cash: set[str],
    balance_before: Callable[[datetime], float | None] = lambda _: None,
    initial_balance: float | None,
) -> Plan:
    """Classify the rows and build the ordered events (module doc).

    ``balance_before(ts)``: the stored balance at or before ``ts`` (None when there is
    none); asked once, for the first new event.
    """
    result = Plan()
    unique, repeats, errors = split_repeats(trades)
    result.errors.extend(errors)
    result.trades["duplicate"].extend(repeats)
    # A file may hold a trade's open and closed rows; the closed one decides.
    closed_ids = {r.trade.broker_trade_id for r in unique if r.trade.status == "closed"}
    for item in unique:
        trade = item.trade
        if trade.status == "open" and trade.broker_trade_id in closed_ids:
            result.trades["duplicate"].append(item)
            continue
        stored = stored_status.get(trade.broker_trade_id)
        if stored is None:
            result.trades["new"].append(item)
        elif stored == "open" and trade.status == "closed":
            result.trades["updated"].append(item)
        else:
            result.trades["duplicate"].append(item)
    seen_keys: set[str] = set()
    for movement in cash:
        key = cash_key(movement)
        if key in stored_cash or key in seen_keys:
            result.cash_duplicate.append(movement)
        else:
            seen_keys.add(key)
            result.cash_new.append(movement)

    # Event-time order: (time, 0 for cash / 1 for trades, position in the file).
    timeline: list[tuple[datetime, int, int, TradeEvent | CashMovement]] = []
    for position, movement in enumerate(result.cash_new):
        timeline.append((movement.ts, 0, position, movement))
    for position, item in enumerate(result.trades["new"] + result.trades["updated"]):
        timeline.append((item.trade.event_time, 1, position, item.trade))
    timeline.sort(key=itemgetter(0, 1, 2))
    make_tick = _TickMaker(account_id)
    start: float | None = None
    if timeline:
        start = balance_before(timeline[0][0])
        first = timeline[0][3]
        if start is None:
            funded = isinstance(first, CashMovement) and first.amount > 0
            start = 0.0 if funded else initial_balance
    result.start_balance = start
    balance = start
    for ts, _, _, entry in timeline:
        if isinstance(entry, TradeEvent):
            result.events.append(entry)
            if entry.status != "closed" or entry.pnl is None or balance is None:
                continue
            balance = round(balance + entry.pnl, 8)
        else:
            if balance is None:
                continue
            balance = round(balance + entry.amount, 8)
        tick = make_tick(account_id, ts, balance)
        result.events.append(tick)
        result.balances.append(tick)
    return result
