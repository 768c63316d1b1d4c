"""Armor: the risk engine over many accounts, for replays and the in-process pipeline."""

from __future__ import annotations

from risk_engine.engine import InputEvent, RulesetResolver, step
from risk_engine.state import AccountState
from schemas.events import BreachEvent, OutputEvent


class Armor:
    """Keeps one :class:`AccountState` per account and applies events in arrival order."""

    def __init__(self, resolve: RulesetResolver) -> None:
        self._resolve = resolve
        self.accounts: dict[str, AccountState] = {}

    def process(self, event: InputEvent) -> list[BreachEvent]:
        """Apply one event; raise on bad input (unknown account or ruleset) without changes."""
        return [item for item in self.process_all(event) if isinstance(item, BreachEvent)]

    def process_all(self, event: InputEvent) -> list[OutputEvent]:
        """Apply one event; its breaches and status changes in order (see ``step``)."""
        state, outputs = step(self.accounts.get(event.account_id), event, self._resolve)
        self.accounts[event.account_id] = state
        return outputs
