"""Armor: the risk engine over many accounts, for replays and the in-process pipeline."""

from __future__ import annotations

from risk_engine.engine import RulesetResolver, apply
from risk_engine.state import AccountState
from schemas.events import AccountEvent, BalanceEvent, BreachEvent, TradeEvent


class Armor:
    """Keeps one :class:`AccountState` per account and applies events in arrival order."""

    def __init__(self, resolve: RulesetResolver) -> None:
        self._resolve = resolve
        self.accounts: dict[str, AccountState] = {}

    def process(self, event: AccountEvent | BalanceEvent | TradeEvent) -> list[BreachEvent]:
        """Apply one event; raise on bad input (unknown account or ruleset) without changes."""
        state, breaches = apply(self.accounts.get(event.account_id), event, self._resolve)
        self.accounts[event.account_id] = state
        return breaches
