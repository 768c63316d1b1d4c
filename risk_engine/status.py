"""Account status under a firm's rules: active, locked for the day, failed, passed.

A status change is an output event like a breach, decided from the state and the
breaches of the input event in hand, so a replay gives the same changes with the same
ids. The rules (docs/rules.md, "Account status"):

- a level 3 of a rule that runs for the account's life (``max_loss``,
  ``trailing_drawdown``) fails the account; ``failed`` is final;
- a level 3 of a daily rule locks an active account until the next trading day's start;
  the first event at or after that instant makes it ``active`` again;
- an active account whose template has objectives passes once they are all met;
  ``passed`` is final.

The status never gates the rules: a locked or failed account that keeps trading still
gets every breach its events cause.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from risk_engine.state import DAILY_RULES, AccountState
from schemas.events import AccountStatus, BreachEvent, RuleName, StatusEvent

FINAL_STATUSES: frozenset[AccountStatus] = frozenset({"failed", "passed"})


def status_id(account_id: str, status: AccountStatus, period: str) -> str:
    """Deterministic: an account enters a status at most once per period (a trading day's
    date for ``locked`` and ``active``, ``life`` for the final statuses)."""
    key = f"{account_id}\x1fstatus\x1f{status}\x1f{period}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def profit_target(state: AccountState) -> float | None:
    """The profit the challenge asks for, in the account currency (None: no target)."""
    objectives = state.ruleset.objectives
    if objectives is None:
        return None
    if objectives.profit_target_percent is not None:
        return objectives.profit_target_percent / 100.0 * state.initial_balance
    return objectives.profit_target_amount


def objectives_met(state: AccountState) -> bool:
    """True when the template sets objectives and every one of them is met."""
    objectives = state.ruleset.objectives
    if objectives is None:
        return False
    target = profit_target(state)
    days = objectives.min_trading_days
    if target is None and days is None:
        return False  # nothing to meet: such a template never passes
    if target is not None and state.balance - state.initial_balance < target:
        return False
    return days is None or len(state.trading_days) >= days


def _day_label(state: AccountState) -> str:
    return "none" if state.day is None else state.day.label.isoformat()


def _when(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _change(
    state: AccountState,
    status: AccountStatus,
    ts: datetime,
    *,
    period: str,
    message: str,
    rule: RuleName | None = None,
    until: datetime | None = None,
) -> StatusEvent:
    event = StatusEvent(
        status_id=status_id(state.account_id, status, period),
        account_id=state.account_id,
        status=status,
        previous=state.status,
        ts=ts,
        rule=rule,
        until=until,
        message=message,
    )
    state.status = status
    state.status_until = until
    state.status_rule = rule
    return event


def unlock_due(state: AccountState, event_time: datetime) -> bool:
    """Whether an event at ``event_time`` starts a locked account's next trading day."""
    return (
        state.status == "locked"
        and state.status_until is not None
        and event_time >= state.status_until
    )


def unlock(state: AccountState, ts: datetime) -> StatusEvent:
    """``locked`` → ``active``: called after the event that starts the next day is applied."""
    return _change(
        state,
        "active",
        ts,
        period=_day_label(state),
        message="A new trading day started: trading is unlocked",
    )


def judge(state: AccountState, ts: datetime, breaches: list[BreachEvent]) -> list[StatusEvent]:
    """The status changes the event's ``breaches`` (and the state after it) cause."""
    if state.status in FINAL_STATUSES:
        return []
    if breaches:
        for breach in breaches:
            if breach.level == 3 and breach.rule not in DAILY_RULES:
                return [
                    _change(
                        state,
                        "failed",
                        ts,
                        period="life",
                        message=f"{breach.rule} reached level 3 ({breach.message}): "
                        "the account has failed",
                        rule=breach.rule,
                    )
                ]
        if state.status == "active" and state.day is not None:
            for breach in breaches:
                if breach.level == 3:
                    until = state.day.end
                    return [
                        _change(
                            state,
                            "locked",
                            ts,
                            period=_day_label(state),
                            message=f"{breach.rule} reached level 3 ({breach.message}): trading "
                            f"is locked until the next trading day starts at {_when(until)}",
                            rule=breach.rule,
                            until=until,
                        )
                    ]
    if state.status == "active" and objectives_met(state):
        target = profit_target(state)
        profit = state.balance - state.initial_balance
        goal = "" if target is None else f"profit {profit:,.2f} of the target {target:,.2f}, "
        return [
            _change(
                state,
                "passed",
                ts,
                period="life",
                message=f"Objectives met: {goal}{len(state.trading_days)} trading days",
            )
        ]
    return []
