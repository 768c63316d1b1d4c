"""Small builders for contract events, so tests read like the rulebook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.rulesets import RulesetCatalog
from risk_engine import Armor
from schemas import AccountEvent, BalanceEvent, BreachEvent, TradeEvent

CATALOG = RulesetCatalog()


def utc(text: str) -> datetime:
    """'2026-03-02 09:00' (UTC) or any ISO string with an offset."""
    if "+" in text[10:] or text.endswith("Z"):
        return datetime.fromisoformat(text).astimezone(UTC)
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def account(
    ruleset: str,
    initial: float = 100_000.0,
    account_id: str = "A1",
    overrides: dict[str, Any] | None = None,
) -> AccountEvent:
    return AccountEvent(
        account_id=account_id,
        ruleset=ruleset,
        initial_balance=initial,
        currency="USD",
        overrides=overrides,
    )


def tick(
    when: str, balance: float, equity: float | None = None, account_id: str = "A1"
) -> BalanceEvent:
    return BalanceEvent(
        account_id=account_id,
        ts=utc(when),
        balance=balance,
        equity=balance if equity is None else equity,
    )


def closed_trade(
    trade_id: str,
    entry: str,
    exit_: str,
    pnl: float,
    quantity: float = 1.0,
    account_id: str = "A1",
    symbol: str = "EURUSD",
) -> TradeEvent:
    return TradeEvent(
        account_id=account_id,
        broker_trade_id=trade_id,
        status="closed",
        symbol=symbol,
        side="long",
        quantity=quantity,
        entry_price=1.1,
        exit_price=1.1 + pnl / 100_000,
        entry_time=utc(entry),
        exit_time=utc(exit_),
        pnl=pnl,
    )


def open_trade(
    trade_id: str, entry: str, quantity: float = 1.0, account_id: str = "A1"
) -> TradeEvent:
    return TradeEvent(
        account_id=account_id,
        broker_trade_id=trade_id,
        status="open",
        symbol="EURUSD",
        side="long",
        quantity=quantity,
        entry_price=1.1,
        entry_time=utc(entry),
    )


def run(*events: AccountEvent | BalanceEvent | TradeEvent) -> list[BreachEvent]:
    armor = Armor(CATALOG)
    found: list[BreachEvent] = []
    for event in events:
        found.extend(armor.process(event))
    return found


def levels(breaches: list[BreachEvent], rule: str | None = None) -> list[tuple[str, int]]:
    return [(b.rule, b.level) for b in breaches if rule is None or b.rule == rule]
