"""An account's stored ticks and trades read back as the contract events that made them,
in event order: what a resumed simulation replays through its engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import Connection

from schemas import BalanceEvent, TradeEvent

_TICKS = """
SELECT account_id, ts, balance, equity FROM balance_ticks
WHERE account_id = ANY(%s) ORDER BY account_id, ts
"""
_TRADES = """
SELECT account_id, broker_trade_id, status, symbol, side, quantity, entry_price, entry_time,
       exit_price, exit_time, pnl, commission
FROM trades WHERE account_id = ANY(%s) ORDER BY account_id, entry_time, broker_trade_id
"""


@dataclass
class StoredHistory:
    """Per account: its events in the order they happened, and where it stopped."""

    events: dict[str, list[BalanceEvent | TradeEvent]] = field(default_factory=dict)
    last_time: dict[str, datetime] = field(default_factory=dict)
    last_balance: dict[str, float] = field(default_factory=dict)
    last_ticket: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(events) for events in self.events.values())


def _key(event: BalanceEvent | TradeEvent) -> tuple[datetime, int]:
    # At one instant the broker's deal comes before the equity it leaves (as it was sent).
    return event.event_time, 1 if isinstance(event, BalanceEvent) else 0


def stored_history(conn: Connection, account_ids: Sequence[str]) -> StoredHistory:
    """Every stored tick and trade of these accounts; a closed trade gives back its
    opening (no exit, no P&L, no commission yet) at its entry and its closing at its exit."""
    history = StoredHistory()
    ids = list(account_ids)
    for account_id, ts, balance, equity in conn.execute(_TICKS, (ids,)):
        history.events.setdefault(account_id, []).append(
            BalanceEvent(account_id=account_id, ts=ts, balance=balance, equity=equity)
        )
        history.last_balance[account_id] = float(balance)
    for row in conn.execute(_TRADES, (ids,)):
        account_id, trade_id, status, symbol, side, quantity, entry_price, entry_time = row[:8]
        exit_price, exit_time, pnl, commission = row[8:]
        opening = TradeEvent(
            account_id=account_id,
            broker_trade_id=trade_id,
            status="open",
            symbol=symbol,
            side=side,
            quantity=float(quantity),
            entry_price=float(entry_price),
            entry_time=entry_time,
        )
        events = history.events.setdefault(account_id, [])
        events.append(opening)
        if status == "closed":
            events.append(
                opening.model_copy(
                    update={
                        "status": "closed",
                        "exit_price": float(exit_price),
                        "exit_time": exit_time,
                        "pnl": float(pnl),
                        "commission": float(commission),
                    }
                )
            )
        if trade_id.isdigit():
            history.last_ticket[account_id] = max(
                history.last_ticket.get(account_id, 0), int(trade_id)
            )
    for account_id, events in history.events.items():
        events.sort(key=_key)
        history.last_time[account_id] = max(event.event_time for event in events)
    return history
