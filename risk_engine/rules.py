"""The equity rules as measures: how much of each allowed loss is used right now.

Each measure reads the account state and returns the loss used, the allowed loss,
and the equity level at which the rule is breached. Levels are fractions of the
allowed loss (70/90/100 % by default); reaching the threshold exactly is a breach,
since the firms' wording is "equity must stay above". The overtrading rule's measure
(trades opened today, or within its window) is here too, so the breach and the live
standing count the same thing.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import datetime, timedelta
from typing import NamedTuple

from risk_engine.state import AccountState
from schemas.events import RuleName
from schemas.rulesets import (
    LossLimit,
    MaxDailyLossRule,
    MaxLossRule,
    TrailingDrawdownRule,
)

# Money comparisons tolerate float rounding of sums like 100000.1 - 95000.1.
_RELATIVE_TOLERANCE = 1e-9


class Measure(NamedTuple):
    """One rule's standing: ``used`` of ``limit`` is spent; breached at equity ``threshold``.

    A named tuple: built three times per full evaluation, it costs a fraction of a
    frozen dataclass."""

    rule: RuleName
    used: float
    limit: float
    threshold: float | None


class TradeCount(NamedTuple):
    """The overtrading rule's measure: ``trades`` of ``limit`` opened today, or within the
    last ``window_minutes`` (None: the day's count), reaching ``level``."""

    level: int
    share: float
    trades: int
    limit: int
    window_minutes: float | None


_ONE_MICROSECOND = timedelta(microseconds=1)


def overtrading_count(state: AccountState, at: datetime | None) -> TradeCount | None:
    """Of the day's count and the count of the window ending at ``at`` (inclusive), the one
    with the higher level, then the higher share of its limit -- the one a breach reports.
    None when the rule is off."""
    rule = state.ruleset.overtrading
    if rule is None:
        return None
    levels = state.ruleset.levels
    candidates: list[TradeCount] = []
    if rule.max_trades_per_day is not None:
        count = len(state.entries_today)
        limit = rule.max_trades_per_day
        candidates.append(
            TradeCount(reached_level(count, limit, levels), count / limit, count, limit, None)
        )
    if rule.max_trades_per_window is not None:
        count = 0
        if at is not None:
            window = timedelta(minutes=rule.window_minutes)
            low = bisect_left(state.entries_today, at - window)
            high = bisect_left(state.entries_today, at + _ONE_MICROSECOND)
            count = high - low
        limit = rule.max_trades_per_window
        candidates.append(
            TradeCount(
                reached_level(count, limit, levels),
                count / limit,
                count,
                limit,
                rule.window_minutes,
            )
        )
    return max(candidates, key=_reported_first)


def _reported_first(count: TradeCount) -> tuple[int, float, int, int, bool]:
    return (count.level, count.share, count.trades, count.limit, count.window_minutes is not None)


def reached_level(used: float, limit: float, levels: tuple[float, float, float]) -> int:
    """The highest level (0-3) whose fraction of ``limit`` ``used`` has reached."""
    tolerance = _RELATIVE_TOLERANCE * max(1.0, abs(limit))
    if limit >= 0.0:
        # Rising levels of a limit that is not negative: each level's amount is at least
        # the one before, so the first level not reached ends the search.
        first, second, third = levels
        if used < first * limit - tolerance:
            return 0
        if used < second * limit - tolerance:
            return 1
        return 2 if used < third * limit - tolerance else 3
    reached = 0
    for index, fraction in enumerate(levels):
        if used >= fraction * limit - tolerance:
            reached = index + 1
    return reached


def _limit_of(rule: LossLimit, base: float) -> float:
    if rule.limit_amount is not None:
        return rule.limit_amount
    assert rule.limit_percent is not None
    return rule.limit_percent / 100.0 * base


def max_daily_loss(state: AccountState) -> Measure | None:
    """Equity must stay above (start-of-day basis − daily limit)."""
    rule = state.ruleset.max_daily_loss
    return None if rule is None else _daily_loss(state, rule)


def _daily_loss(state: AccountState, rule: MaxDailyLossRule) -> Measure:
    if rule.basis == "start_of_day_balance":
        basis = state.start_of_day_balance
    elif rule.basis == "start_of_day_equity":
        basis = state.start_of_day_equity
    else:
        basis = max(state.start_of_day_balance, state.start_of_day_equity)
    base = (
        state.initial_balance
        if rule.percent_of == "initial_balance"
        else state.start_of_day_balance
    )
    limit = _limit_of(rule, base)
    return Measure("max_daily_loss", max(0.0, basis - state.equity), limit, basis - limit)


def max_loss(state: AccountState) -> Measure | None:
    """Equity must stay above (initial balance, or the highest end-of-day balance) − limit."""
    rule = state.ruleset.max_loss
    return None if rule is None else _total_loss(state, rule)


def _total_loss(state: AccountState, rule: MaxLossRule) -> Measure:
    basis = state.initial_balance
    if rule.mode == "end_of_day_trailing":
        basis = max(state.highest_eod_balance, state.initial_balance)
    limit = _limit_of(rule, state.initial_balance)
    return Measure("max_loss", max(0.0, basis - state.equity), limit, basis - limit)


def trailing_drawdown(state: AccountState) -> Measure | None:
    """Equity must stay above (peak − limit), the threshold locking at initial + lock_offset."""
    rule = state.ruleset.trailing_drawdown
    return None if rule is None else _trailing(state, rule)


def _trailing(state: AccountState, rule: TrailingDrawdownRule) -> Measure:
    peak = state.peak_equity if rule.mode == "intraday" else state.highest_eod_balance
    limit = _limit_of(rule, state.initial_balance)
    threshold = peak - limit
    if rule.lock_offset is not None:
        threshold = min(threshold, state.initial_balance + rule.lock_offset)
    return Measure(
        "trailing_drawdown", max(0.0, threshold + limit - state.equity), limit, threshold
    )


EQUITY_MEASURES = (max_daily_loss, max_loss, trailing_drawdown)


def equity_measures(state: AccountState) -> list[Measure]:
    """The standing of every equity rule the account's ruleset has, in the order of
    :data:`EQUITY_MEASURES` (calling only the rules the ruleset has)."""
    ruleset = state.ruleset
    found = []
    daily = ruleset.max_daily_loss
    if daily is not None:
        found.append(_daily_loss(state, daily))
    total = ruleset.max_loss
    if total is not None:
        found.append(_total_loss(state, total))
    trailing = ruleset.trailing_drawdown
    if trailing is not None:
        found.append(_trailing(state, trailing))
    return found


def equity_alert(state: AccountState, measures: list[Measure] | None = None) -> float:
    """The highest equity at which some equity rule reaches its next unfired level.

    A tick with equity strictly above it cannot fire anything, so the engine skips the
    full evaluation; the margin of two tolerances sends borderline ticks to the exact path.
    ``measures`` are the state's :func:`equity_measures` when the caller has them already
    (the alert depends on the fired levels and the measures, never on the equity itself).
    """
    levels = state.ruleset.levels
    fired_levels = state.fired_levels
    alert = -math.inf
    for measure in equity_measures(state) if measures is None else measures:
        fired = fired_levels.get(measure.rule, 0)
        if fired >= len(levels) or measure.threshold is None:
            continue
        limit = measure.limit
        tolerance = _RELATIVE_TOLERANCE * max(1.0, abs(limit))
        trigger = measure.threshold + limit * (1.0 - levels[fired]) + 2 * tolerance
        alert = max(alert, trigger)
    return alert


def per_trade_limit(state: AccountState) -> float | None:
    """The largest loss one trade may take, or None when the rule is off."""
    rule = state.ruleset.max_loss_per_trade
    if rule is None:
        return None
    if rule.percent_of == "balance":
        base = state.balance
    elif rule.percent_of == "start_of_day_balance":
        base = state.start_of_day_balance
    else:
        base = state.initial_balance
    return _limit_of(rule, base)
