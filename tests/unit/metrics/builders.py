"""Builders for journals in the metrics tests: contract events in a line each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from risk_engine.metrics import (
    Journal,
    KpiConfig,
    KpiResult,
    compute_kpis,
    compute_kpis_by_account,
    journal_from_events,
)
from schemas import AccountEvent, BalanceEvent, TradeEvent

Event = AccountEvent | BalanceEvent | TradeEvent


def utc(text: str) -> datetime:
    """'2026-03-02 09:00' read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def account(
    initial: float = 10_000.0, account_id: str = "A1", currency: str = "USD"
) -> AccountEvent:
    return AccountEvent(
        account_id=account_id,
        ruleset="personal",
        initial_balance=initial,
        currency=currency,
    )


def snapshot(
    when: str, equity: float, balance: float | None = None, account_id: str = "A1"
) -> BalanceEvent:
    return BalanceEvent(
        account_id=account_id,
        ts=utc(when),
        balance=equity if balance is None else balance,
        equity=equity,
    )


_counter = iter(range(1, 10**9))


def trade(
    pnl: float,
    entry: str = "2026-03-02 09:00",
    exit_: str | None = None,
    *,
    account_id: str = "A1",
    trade_id: str | None = None,
    symbol: str = "EURUSD",
    side: str = "long",
    quantity: float = 1.0,
    entry_price: float = 100.0,
    exit_price: float | None = None,
    stop_loss: float | None = None,
    commission: float = 0.0,
    swap: float = 0.0,
    mfe: float | None = None,
    mae: float | None = None,
    tags: Iterable[str] = (),
) -> TradeEvent:
    """A closed trade; exit one hour after entry unless given, prices made up unless given."""
    entry_time = utc(entry)
    exit_time = utc(exit_) if exit_ is not None else entry_time + timedelta(hours=1)
    fields: dict[str, Any] = {
        "account_id": account_id,
        "broker_trade_id": trade_id or f"T{next(_counter)}",
        "status": "closed",
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "entry_price": entry_price,
        "exit_price": exit_price if exit_price is not None else entry_price,
        "entry_time": entry_time,
        "exit_time": exit_time,
        "pnl": pnl,
        "commission": commission,
        "swap": swap,
        "stop_loss": stop_loss,
        "mfe": mfe,
        "mae": mae,
        "tags": tuple(tags),
    }
    return TradeEvent(**fields)


def journal(*events: Event) -> Journal:
    built, _ = journal_from_events(events)
    return built


def kpis(*events: Event, config: KpiConfig | None = None) -> dict[str, Any]:
    """The KPIs of the events' single account (or all of them as one book)."""
    result: KpiResult = compute_kpis(journal(*events), config)
    return result


def kpis_of(*events: Event, config: KpiConfig | None = None) -> dict[str, dict[str, Any]]:
    """The KPIs per account."""
    results: dict[str, Any] = compute_kpis_by_account(journal(*events), config)
    return results
