"""The read model of an account's state: rule standings and objective progress."""

from __future__ import annotations

import math

from risk_engine import rules
from risk_engine.state import AccountState
from risk_engine.status import profit_target
from schemas.events import RuleName
from schemas.state import AccountSnapshot, ObjectivesProgress, RuleStanding


def objectives_fields(state: AccountState) -> dict[str, object] | None:
    """Profit against the target and trading days against the minimum, if the template has
    them, as :class:`ObjectivesProgress`'s fields."""
    objectives = state.ruleset.objectives
    if objectives is None:
        return None
    profit = state.balance - state.initial_balance
    target = profit_target(state)
    progress = None if target is None else round(100.0 * profit / target, 4)
    days = len(state.trading_days)
    target_met = target is None or profit >= target
    days_met = objectives.min_trading_days is None or days >= objectives.min_trading_days
    no_breach = state.fired_levels.get("max_loss", 0) < 3 and (
        state.fired_levels.get("trailing_drawdown", 0) < 3
    )
    return {
        "profit": round(profit, 6),
        "profit_target": target,
        "profit_progress_percent": progress,
        "trading_days": days,
        "min_trading_days": objectives.min_trading_days,
        "passed": target_met and days_met and no_breach,
    }


def objectives_progress(state: AccountState) -> ObjectivesProgress | None:
    """Profit against the target and trading days against the minimum, if the template has them."""
    fields = objectives_fields(state)
    return None if fields is None else ObjectivesProgress.model_validate(fields)


def _rule_fields(
    rule: RuleName,
    *,
    used: float,
    limit: float,
    threshold: float | None,
    level: int,
    levels: tuple[float, float, float],
    window_minutes: float | None = None,
    whole: bool = False,
) -> dict[str, object]:
    """One rule's numbers, with the headroom left to its next level and to level 3. A count
    (``whole``) has whole trades of headroom: level 1 at 70 % of 4 trades fires at the 3rd,
    so with 2 opened 1 is left, not 0.8."""
    next_level = level + 1 if level < len(levels) else None

    def left(fraction: float) -> float:
        room = max(0.0, fraction * limit - used)
        return float(math.ceil(room - 1e-9)) if whole else round(room, 6)

    headroom_next = None if next_level is None else left(levels[next_level - 1])
    return {
        "rule": rule,
        "used": round(used, 6),
        "limit": round(limit, 6),
        "used_percent": round(100.0 * used / limit, 4) if limit else 0.0,
        "threshold": None if threshold is None else round(threshold, 6),
        "level": level,
        "next_level": next_level,
        "headroom_next": headroom_next,
        "headroom_breach": left(levels[-1]),
        "window_minutes": window_minutes,
    }


def rule_fields(state: AccountState) -> tuple[dict[str, object], ...]:
    """Every equity rule's standing, and the overtrading rule's count, as
    :class:`RuleStanding`'s fields."""
    levels = state.ruleset.levels
    fired = state.fired_levels
    standings = [
        _rule_fields(
            m.rule,
            used=m.used,
            limit=m.limit,
            threshold=m.threshold,
            level=fired.get(m.rule, 0),
            levels=levels,
        )
        for m in rules.equity_measures(state)
    ]
    # The count a breach would report now: the day's, or the window's ending at the
    # latest event (so the card and the alert speak of the same limit).
    count = rules.overtrading_count(state, state.last_event_time)
    if count is not None:
        standings.append(
            _rule_fields(
                "overtrading",
                used=float(count.trades),
                limit=float(count.limit),
                threshold=None,
                level=fired.get("overtrading", 0),
                levels=levels,
                window_minutes=count.window_minutes,
                whole=True,
            )
        )
    return tuple(standings)


def rule_standings(state: AccountState) -> tuple[RuleStanding, ...]:
    """Every equity rule's standing, and the overtrading rule's count."""
    return tuple(RuleStanding.model_validate(fields) for fields in rule_fields(state))


def snapshot_fields(state: AccountState) -> dict[str, object]:
    """The account's standing as plain values, named and nested as :class:`AccountSnapshot`
    has them (datetimes, dates, tuples of dicts; no ``seq``). :func:`snapshot` validates
    them into the model; the live output writes them as JSON directly, which costs about
    a third of building and dumping the model (docs/live-standing.md)."""
    return _fields(state, rule_fields(state), objectives_fields(state))


def _fields(state: AccountState, rules: object, objectives: object) -> dict[str, object]:
    return {
        "account_id": state.account_id,
        "name": state.name,
        "ruleset": state.ruleset.name,
        "currency": state.currency,
        "initial_balance": state.initial_balance,
        "balance": state.balance,
        "equity": state.equity,
        "trading_day": None if state.day is None else state.day.label,
        "start_of_day_balance": state.start_of_day_balance,
        "start_of_day_equity": state.start_of_day_equity,
        "highest_eod_balance": state.highest_eod_balance,
        "peak_equity": state.peak_equity,
        "rules": rules,
        "objectives": objectives,
        "last_event_time": state.last_event_time,
        "events_applied": state.events_applied,
        "duplicate_trades": state.duplicate_trades,
        "late_trades": state.late_trades,
        "breaches_emitted": state.breaches_emitted,
        "status": state.status,
        "status_until": state.status_until,
        "status_rule": state.status_rule,
    }


def snapshot(state: AccountState) -> AccountSnapshot:
    """A serialisable view of the account's live standing."""
    fields = _fields(state, rule_standings(state), objectives_progress(state))
    return AccountSnapshot.model_validate(fields)
