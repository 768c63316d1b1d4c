"""The read model of an account's state: rule standings and objective progress."""

from __future__ import annotations

from risk_engine import rules
from risk_engine.state import AccountState
from schemas.state import AccountSnapshot, ObjectivesProgress, RuleStanding


def objectives_progress(state: AccountState) -> ObjectivesProgress | None:
    """Profit against the target and trading days against the minimum, if the template has them."""
    objectives = state.ruleset.objectives
    if objectives is None:
        return None
    profit = state.balance - state.initial_balance
    target: float | None = objectives.profit_target_amount
    if objectives.profit_target_percent is not None:
        target = objectives.profit_target_percent / 100.0 * state.initial_balance
    progress = None if target is None else round(100.0 * profit / target, 4)
    days = len(state.trading_days)
    target_met = target is None or profit >= target
    days_met = objectives.min_trading_days is None or days >= objectives.min_trading_days
    no_breach = state.fired_levels.get("max_loss", 0) < 3 and (
        state.fired_levels.get("trailing_drawdown", 0) < 3
    )
    return ObjectivesProgress(
        profit=round(profit, 6),
        profit_target=target,
        profit_progress_percent=progress,
        trading_days=days,
        min_trading_days=objectives.min_trading_days,
        passed=target_met and days_met and no_breach,
    )


def snapshot(state: AccountState) -> AccountSnapshot:
    """A serialisable view of the account's live standing."""
    standings = []
    for measure in rules.equity_measures(state):
        standings.append(
            RuleStanding(
                rule=measure.rule,
                used=round(measure.used, 6),
                limit=round(measure.limit, 6),
                used_percent=round(100.0 * measure.used / measure.limit, 4)
                if measure.limit
                else 0.0,
                threshold=None if measure.threshold is None else round(measure.threshold, 6),
                level=state.fired_levels.get(measure.rule, 0),
            )
        )
    return AccountSnapshot(
        account_id=state.account_id,
        name=state.name,
        ruleset=state.ruleset.name,
        currency=state.currency,
        initial_balance=state.initial_balance,
        balance=state.balance,
        equity=state.equity,
        trading_day=None if state.day is None else state.day.label,
        start_of_day_balance=state.start_of_day_balance,
        start_of_day_equity=state.start_of_day_equity,
        highest_eod_balance=state.highest_eod_balance,
        peak_equity=state.peak_equity,
        rules=tuple(standings),
        objectives=objectives_progress(state),
        last_event_time=state.last_event_time,
        events_applied=state.events_applied,
        duplicate_trades=state.duplicate_trades,
        late_trades=state.late_trades,
        breaches_emitted=state.breaches_emitted,
    )
