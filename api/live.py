"""The live read model: account standings kept by running the pure engine over the events.

The engine is deterministic, so the same events give the API exactly the standings the
pipeline holds; the API keeps its own copy and never reaches into the dataflow's state.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from risk_engine import AccountState, RulesetResolver, UnknownAccountError, apply, snapshot
from schemas import AccountEvent, BalanceEvent, TradeEvent
from schemas.rulesets import RulesetError
from schemas.state import AccountSnapshot


class LiveBoard:
    """Thread-safe account states fed event by event (bad events are skipped, counted)."""

    def __init__(self, resolve: RulesetResolver) -> None:
        self._resolve = resolve
        self._states: dict[str, AccountState] = {}
        self._lock = threading.Lock()
        self.rejected = 0

    def apply(self, event: AccountEvent | BalanceEvent | TradeEvent) -> None:
        with self._lock:
            try:
                state, _ = apply(self._states.get(event.account_id), event, self._resolve)
            except (UnknownAccountError, RulesetError):
                self.rejected += 1
                return
            self._states[event.account_id] = state

    def snapshots(self) -> list[AccountSnapshot]:
        with self._lock:
            return [snapshot(state) for _, state in sorted(self._states.items())]

    def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountSnapshot]:
        """:class:`api.ports.Standings` of the embedded demo."""
        with self._lock:
            return {
                account_id: snapshot(self._states[account_id])
                for account_id in account_ids
                if account_id in self._states
            }

    def snapshot(self, account_id: str) -> AccountSnapshot | None:
        with self._lock:
            state = self._states.get(account_id)
            return None if state is None else snapshot(state)
