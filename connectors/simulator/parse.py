"""Simulated broker records → contract events (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.simulator.wire import SimAccount, SimEquity, SimRecord
from schemas import AccountEvent, BalanceEvent, TradeEvent


def _time(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


def to_event(record: SimRecord) -> AccountEvent | BalanceEvent | TradeEvent:
    """The contract event of one simulated record."""
    if isinstance(record, SimAccount):
        return AccountEvent(
            account_id=record.login,
            ruleset=record.plan,
            initial_balance=record.deposit,
            currency=record.currency,
            name=record.name or f"simulated {record.login}",
        )
    if isinstance(record, SimEquity):
        return BalanceEvent(
            account_id=record.login,
            ts=_time(record.time_ms),
            balance=round(record.balance, 2),
            equity=round(record.equity, 2),
        )
    closed = record.close_time_ms is not None
    return TradeEvent(
        account_id=record.login,
        broker_trade_id=str(record.ticket),
        status="closed" if closed else "open",
        symbol=record.symbol,
        side="long" if record.action == "buy" else "short",
        quantity=record.lots,
        entry_price=record.open_price,
        entry_time=_time(record.open_time_ms),
        exit_price=record.close_price,
        exit_time=None if record.close_time_ms is None else _time(record.close_time_ms),
        pnl=None if record.profit is None else round(record.profit, 2),
        commission=round(record.commission, 2) if closed else 0.0,
    )
