"""``apply(state, event) -> (state, breaches)``: the Armor risk engine, pure and deterministic.

No clock, no I/O: time is the event's own timestamp, and rulesets come from the
``resolve`` function the caller passes in. Replaying the same events gives the
same breaches with the same ids.
"""

from __future__ import annotations

import hashlib
from bisect import insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from risk_engine import rules, status
from risk_engine.calendar import trading_day_in
from risk_engine.state import DAILY_RULES, AccountState
from schemas.events import (
    AccountEvent,
    BalanceEvent,
    BreachEvent,
    OutputEvent,
    RuleName,
    TradeEvent,
)
from schemas.records import BalanceRecord, TradeRecord
from schemas.rulesets import Ruleset, with_overrides

RulesetResolver = Callable[[str], Ruleset]
"""Turns an account event's ``ruleset`` (a template name or a file) into a :class:`Ruleset`."""

Balance = BalanceEvent | BalanceRecord
Trade = TradeEvent | TradeRecord
InputEvent = AccountEvent | Balance | Trade
"""The contract's input events, or the pipeline's records of balance and trade events
(``schemas.records``: the same fields and values, read more cheaply)."""


class UnknownAccountError(ValueError):
    """A balance or trade event for an account that no account event has registered."""

    def __init__(self, account_id: str, event_type: str) -> None:
        super().__init__(
            f"account {account_id!r} is not registered: its {event_type} event arrived before "
            "an account event"
        )
        self.account_id = account_id


def new_account_state(event: AccountEvent, resolve: RulesetResolver) -> AccountState:
    """A fresh state for a newly registered account."""
    ruleset = with_overrides(resolve(event.ruleset), event.overrides)
    return AccountState(
        account_id=event.account_id,
        ruleset=ruleset,
        initial_balance=event.initial_balance,
        currency=event.currency,
        name=event.name,
        balance=event.initial_balance,
        equity=event.initial_balance,
        start_of_day_balance=event.initial_balance,
        start_of_day_equity=event.initial_balance,
        highest_eod_balance=event.initial_balance,
        peak_equity=event.initial_balance,
    )


def breach_id(account_id: str, rule: str, period: str, level: int) -> str:
    """Deterministic: a level fires at most once per account, rule and period."""
    key = f"{account_id}\x1f{rule}\x1f{period}\x1f{level}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def _period(state: AccountState, rule: RuleName) -> str:
    if rule in DAILY_RULES and state.day is not None:
        return state.day.label.isoformat()
    return "life"


@dataclass(frozen=True, slots=True)
class Reading:
    """A rule's reading at one event: the level reached and the numbers behind it."""

    rule: RuleName
    level: int
    ts: datetime
    value: float
    limit: float
    threshold: float | None = None


def _escalate(
    state: AccountState, reading: Reading, describe: Callable[[int], str]
) -> list[BreachEvent]:
    """Fire every level above the last one fired this period, up to the reading's, in order."""
    fired = state.fired_levels.get(reading.rule, 0)
    if reading.level <= fired:
        return []
    period = _period(state, reading.rule)
    threshold = reading.threshold
    breaches = [
        BreachEvent(
            breach_id=breach_id(state.account_id, reading.rule, period, new_level),
            account_id=state.account_id,
            rule=reading.rule,
            level=new_level,  # type: ignore[arg-type]
            ts=reading.ts,
            value=round(reading.value, 6),
            limit=round(reading.limit, 6),
            threshold=None if threshold is None else round(threshold, 6),
            message=describe(new_level),
        )
        for new_level in range(fired + 1, reading.level + 1)
    ]
    state.fired_levels[reading.rule] = reading.level
    state.breaches_emitted += len(breaches)
    return breaches


_EQUITY_RULE_WORDS: dict[str, str] = {
    "max_daily_loss": "Daily loss",
    "max_loss": "Total loss",
    "trailing_drawdown": "Drawdown from the trailing peak",
}


_LEVEL_NAMES = {1: "warning", 2: "danger"}


def _equity_text(reading: Reading, levels: tuple[float, float, float], level: int) -> str:
    subject = _EQUITY_RULE_WORDS[reading.rule]
    return _usage_text(subject, reading.value, reading.limit, level, levels)


def _usage_text(
    subject: str, used: float, limit: float, level: int, levels: tuple[float, float, float]
) -> str:
    if level == 3:
        return f"{subject} {used:,.2f} reached the limit {limit:,.2f}"
    return (
        f"{subject} {used:,.2f} passed the {_LEVEL_NAMES[level]} level "
        f"({levels[level - 1] * 100:.0f}% of the limit {limit:,.2f})"
    )


def _count_text(
    subject: str, count: int, limit: int, level: int, levels: tuple[float, float, float]
) -> str:
    if level == 3:
        return f"{subject}: {count} reached the limit {limit}"
    return (
        f"{subject}: {count} passed the {_LEVEL_NAMES[level]} level "
        f"({levels[level - 1] * 100:.0f}% of the limit {limit})"
    )


def _roll_day(state: AccountState, ts: datetime) -> None:
    day = state.day
    if day is not None and (ts < day.end):
        return  # same day, or a late event that stays in the current day
    ruleset = state.ruleset
    state.start_new_day(trading_day_in(ts, ruleset.timezone, ruleset.day_start))


def _alert_follows_peak(ruleset: Ruleset) -> bool:
    """Whether a new equity peak moves a threshold (an intraday trailing drawdown's): only
    then does the alert equity need recomputing on a peak."""
    trailing = ruleset.trailing_drawdown
    return trailing is not None and trailing.mode == "intraday"


def _apply_balance(state: AccountState, event: Balance) -> list[BreachEvent]:
    first_tick = state.day is None
    if first_tick:
        # Attached mid-life: the first snapshot's balance is the balance at the boundary.
        state.balance = event.balance
        state.equity = event.balance
    _roll_day(state, event.ts)
    state.balance = event.balance
    state.equity = event.equity
    if event.equity > state.peak_equity:
        state.peak_equity = event.equity
        if _alert_follows_peak(state.ruleset):
            state.equity_alert = None
    alert = state.equity_alert
    measures = None
    if alert is None:
        measures = rules.equity_measures(state)
        alert = state.equity_alert = rules.equity_alert(state, measures)
    if event.equity > alert:
        return []
    breaches: list[BreachEvent] = []
    levels = state.ruleset.levels
    if measures is None:
        measures = rules.equity_measures(state)
    # The measures read the equity, the day's start and the peaks; escalating changes
    # only the fired levels, so the same measures give the new alert below.
    for measure in measures:
        level = rules.reached_level(measure.used, measure.limit, levels)
        if level > state.fired_levels.get(measure.rule, 0):
            reading = Reading(
                measure.rule, level, event.ts, measure.used, measure.limit, measure.threshold
            )
            breaches += _escalate(state, reading, partial(_equity_text, reading, levels))
    state.equity_alert = rules.equity_alert(state, measures)
    return breaches


def _overtrading(state: AccountState, event: Trade) -> Iterable[BreachEvent]:
    if state.fired_levels.get("overtrading", 0) >= len(state.ruleset.levels):
        return ()  # the top level has fired today: nothing more can
    measure = rules.overtrading_count(state, event.entry_time)
    if measure is None or measure.level <= state.fired_levels.get("overtrading", 0):
        return ()
    subject = (
        f"Trades opened within {measure.window_minutes:g} minutes"
        if measure.window_minutes is not None
        else "Trades opened today"
    )
    level, count, limit = measure.level, measure.trades, measure.limit
    return _escalate(
        state,
        Reading("overtrading", level, event.event_time, float(count), float(limit), None),
        lambda lvl: _count_text(subject, count, limit, lvl, state.ruleset.levels),
    )


def _tilt_on_entry(state: AccountState, event: Trade) -> Iterable[BreachEvent]:
    rule = state.ruleset.tilt
    if rule is None or state.loss_streak < rule.loss_streak or state.last_loss_exit is None:
        return ()
    gap = event.entry_time - state.last_loss_exit
    if not timedelta(0) <= gap <= timedelta(minutes=rule.cooldown_minutes):
        return ()
    average_size = state.loss_streak_quantity / state.loss_streak
    ratio = event.quantity / average_size
    escalated = ratio >= rule.size_escalation
    level = 3 if escalated else 2
    minutes = gap.total_seconds() / 60.0
    streak = state.loss_streak

    def describe(lvl: int) -> str:
        text = (
            f"Revenge trade: {event.broker_trade_id} opened {minutes:.1f} min after "
            f"{streak} losses in a row (cool-down {rule.cooldown_minutes:g} min)"
        )
        if lvl == 3:
            text += f", size {ratio:.2f}x the losing streak's average"
        return text

    return _escalate(
        state,
        Reading("tilt", level, event.entry_time, float(streak), float(rule.loss_streak), None),
        describe,
    )


def _tilt_on_close(state: AccountState, event: Trade) -> Iterable[BreachEvent]:
    rule = state.ruleset.tilt
    pnl = event.pnl
    assert pnl is not None and event.exit_time is not None
    if pnl > 0:
        state.loss_streak = 0
        state.loss_streak_quantity = 0.0
        state.last_loss_exit = None
        return ()
    if pnl == 0:
        return ()  # breakeven neither extends nor ends a streak
    state.loss_streak += 1
    state.loss_streak_quantity += event.quantity
    state.last_loss_exit = event.exit_time
    if rule is None or state.loss_streak < rule.loss_streak:
        return ()
    streak = state.loss_streak
    return _escalate(
        state,
        Reading("tilt", 1, event.exit_time, float(streak), float(rule.loss_streak), None),
        lambda _lvl: (
            f"Losing streak: {streak} losing trades in a row; pause for "
            f"{rule.cooldown_minutes:g} minutes before the next trade"
        ),
    )


def _per_trade_loss(state: AccountState, event: Trade) -> Iterable[BreachEvent]:
    limit = rules.per_trade_limit(state)
    pnl = event.pnl
    if limit is None or pnl is None or pnl >= 0:
        return ()
    loss = -pnl
    level = rules.reached_level(loss, limit, state.ruleset.levels)
    if level <= state.fired_levels.get("max_loss_per_trade", 0):
        return ()
    subject = f"Loss on trade {event.broker_trade_id} ({event.symbol})"
    return _escalate(
        state,
        Reading("max_loss_per_trade", level, event.event_time, loss, limit, None),
        lambda lvl: _usage_text(subject, loss, limit, lvl, state.ruleset.levels),
    )


def _count_entry(state: AccountState, event: Trade) -> list[BreachEvent]:
    """A new trade entered in the current day: trading days, tilt and overtrading."""
    assert state.day is not None
    state.trading_days.add(state.day.label)
    insort(state.entries_today, event.entry_time)
    return [*_tilt_on_entry(state, event), *_overtrading(state, event)]


def _apply_trade(state: AccountState, event: Trade) -> list[BreachEvent]:
    trade_id = event.broker_trade_id
    if state.day is None:
        ruleset = state.ruleset
        state.start_new_day(trading_day_in(event.event_time, ruleset.timezone, ruleset.day_start))
    # A trade entered in the current day counts as that day's entry even when its
    # close arrives later; the day rolls on the entry first, then on the exit.
    _roll_day(state, event.entry_time)
    day = state.day
    assert day is not None
    if event.status == "open":
        if trade_id in state.open_trades or trade_id in state.closed_today:
            state.duplicate_trades += 1
            return []
        if event.entry_time < day.start:
            state.late_trades += 1  # entered on an earlier day: no daily rule to judge
            return []
        state.open_trades.add(trade_id)
        return _count_entry(state, event)
    if trade_id in state.closed_today:
        state.duplicate_trades += 1
        return []
    breaches: list[BreachEvent] = []
    if trade_id not in state.open_trades and day.contains(event.entry_time):
        breaches += _count_entry(state, event)
    state.open_trades.discard(trade_id)
    _roll_day(state, event.event_time)
    assert state.day is not None
    if event.event_time < state.day.start:
        state.late_trades += 1  # closed on an earlier day (or a re-sent old close)
        return breaches
    state.closed_today.add(trade_id)
    breaches += _per_trade_loss(state, event)
    breaches += _tilt_on_close(state, event)
    return breaches


def _quiet_tick(state: AccountState, event: Balance) -> list[OutputEvent] | None:
    """The per-tick fast path: a balance tick above the account's alert equity, on an
    account that has a trading day and is not locked (a tick that starts the next day
    rolls it here first); ``None`` when the tick needs the full path.

    Most ticks are such ticks, and this does for them exactly what :func:`step` does,
    with no function call per rule. Whatever it changes before giving up (the day rolled,
    balance, equity, peak, a dropped alert) the full path would set to the same values
    (its own day roll finds the day rolled already), so handing over to it is safe.
    """
    day = state.day
    ts = event.ts
    if day is None or state.status == "locked":
        return None
    if not ts < day.end:
        _roll_day(state, ts)  # before the balance: the boundary's balance starts the day
    equity = event.equity
    state.balance = event.balance
    state.equity = equity
    if equity > state.peak_equity:
        state.peak_equity = equity
        if _alert_follows_peak(state.ruleset):
            state.equity_alert = None
    alert = state.equity_alert
    if alert is None:
        alert = state.equity_alert = rules.equity_alert(state)
    if not equity > alert:
        return None
    state.last_event_time = ts
    state.events_applied += 1
    return _passed_if_met(state, ts)


def _passed_if_met(state: AccountState, ts: datetime) -> list[OutputEvent]:
    """After a quiet event: the status change when the objectives are met now (the quiet
    paths' end; ``status.objectives_met``, its most common "no" first: the profit target
    not reached)."""
    objectives = state.ruleset.objectives
    if objectives is None or state.status != "active":
        return []
    percent = objectives.profit_target_percent
    initial = state.initial_balance
    target = objectives.profit_target_amount if percent is None else percent / 100.0 * initial
    if target is not None and state.balance - initial < target:
        return []
    if not status.objectives_met(state):
        return []
    return [*status.judge(state, ts, [])]


def _quiet_trade(state: AccountState, event: Trade) -> list[OutputEvent] | None:
    """The per-trade fast path: a trade opened (or opened and closed) inside the current
    trading day, not seen before (a close may follow its own open), on an account that
    is not locked; ``None`` when the trade needs the full path (a day to roll, a late or
    re-sent trade, a locked account), before anything is changed.

    It does for such trades exactly what :func:`_apply_trade` and :func:`step` do, with
    no day-roll check, and calls a rule's function only when the ruleset has the rule.
    """
    day = state.day
    if day is None or state.status == "locked":
        return None
    entry = event.entry_time
    exit_time = event.exit_time
    event_time = entry if exit_time is None else exit_time
    if entry < day.start or not event_time < day.end:
        return None
    trade_id = event.broker_trade_id
    opened_before = trade_id in state.open_trades
    if trade_id in state.closed_today or (opened_before and exit_time is None):
        return None  # a duplicate: counted by the full path
    ruleset = state.ruleset
    breaches: list[BreachEvent] = []
    if not opened_before:  # the entry counts for today (as _count_entry)
        state.trading_days.add(day.label)
        insort(state.entries_today, entry)
        tilt = ruleset.tilt
        if tilt is not None and state.loss_streak >= tilt.loss_streak:
            breaches += _tilt_on_entry(state, event)
        if ruleset.overtrading is not None:
            breaches += _overtrading(state, event)
    if exit_time is None:
        state.open_trades.add(trade_id)
    else:
        state.open_trades.discard(trade_id)
        state.closed_today.add(trade_id)
        pnl = event.pnl
        assert pnl is not None
        if pnl > 0:  # a win ends a losing streak (as _tilt_on_close)
            state.loss_streak = 0
            state.loss_streak_quantity = 0.0
            state.last_loss_exit = None
        elif pnl < 0:
            if ruleset.max_loss_per_trade is not None:
                breaches += _per_trade_loss(state, event)
            breaches += _tilt_on_close(state, event)
    state.last_event_time = event_time
    state.events_applied += 1
    if breaches:
        return [*breaches, *status.judge(state, event_time, breaches)]
    return _passed_if_met(state, event_time)


def step(
    state: AccountState | None, event: InputEvent, resolve: RulesetResolver
) -> tuple[AccountState, list[OutputEvent]]:
    """Apply one event to an account's state; return the state and everything it caused.

    The outputs are breaches and status changes, in the order they happened: a locked
    account's ``active`` first (the event started its next day), then the event's
    breaches, then the ``failed``, ``locked`` or ``passed`` they (or the event) caused.
    ``state`` is ``None`` for an account not seen yet; it is updated in place and
    returned. Raises :class:`UnknownAccountError` for a tick before its account event,
    and ``schemas.rulesets.RulesetError`` for an account whose ruleset is unknown.
    """
    if state is not None:
        if type(event) is BalanceRecord or type(event) is BalanceEvent:
            quiet = _quiet_tick(state, event)
        elif type(event) is TradeRecord or type(event) is TradeEvent:
            quiet = _quiet_trade(state, event)
        else:
            quiet = None
        if quiet is not None:
            return state, quiet
    return _step(state, event, resolve)


def _step(
    state: AccountState | None, event: InputEvent, resolve: RulesetResolver
) -> tuple[AccountState, list[OutputEvent]]:
    """:func:`step` past the fast path."""
    if isinstance(event, AccountEvent):
        if state is None:
            state = new_account_state(event, resolve)
        else:
            state.ruleset = with_overrides(resolve(event.ruleset), event.overrides)
            state.initial_balance = event.initial_balance
            state.currency = event.currency
            state.name = event.name
            state.equity_alert = None
        state.events_applied += 1
        return state, []
    if state is None:
        raise UnknownAccountError(event.account_id, event.type)
    event_time = event.event_time
    unlocking = status.unlock_due(state, event_time)
    if isinstance(event, (BalanceRecord, BalanceEvent)):
        breaches = _apply_balance(state, event)
    else:
        breaches = _apply_trade(state, event)
    state.last_event_time = event_time
    state.events_applied += 1
    if not (unlocking or breaches) and (
        state.ruleset.objectives is None
        or state.status != "active"
        or not status.objectives_met(state)
    ):
        return state, []  # nothing can change the status (what status.judge would find)
    outputs: list[OutputEvent] = [status.unlock(state, event_time)] if unlocking else []
    outputs += breaches
    outputs += status.judge(state, event_time, breaches)
    return state, outputs


def apply(
    state: AccountState | None, event: InputEvent, resolve: RulesetResolver
) -> tuple[AccountState, list[BreachEvent]]:
    """Apply one event to an account's state; return the state and the breaches it caused.

    As :func:`step` (the account's status changes too), reporting only the breaches.
    """
    if state is not None:
        if type(event) is BalanceEvent or type(event) is BalanceRecord:
            # The commonest case of _quiet_tick inline (most events are such ticks): a tick
            # inside the day, above the alert equity, that cannot pass the account. Any
            # other tick goes to _quiet_tick, which sets the same fields to the same values
            # again before going on.
            day = state.day
            ts = event.ts
            if day is not None and ts < day.end and state.status != "locked":
                equity = event.equity
                state.balance = event.balance
                state.equity = equity
                if equity > state.peak_equity:
                    state.peak_equity = equity
                    if _alert_follows_peak(state.ruleset):
                        state.equity_alert = None
                alert = state.equity_alert
                if alert is None:
                    alert = state.equity_alert = rules.equity_alert(state)
                if equity > alert:
                    objectives = state.ruleset.objectives
                    if objectives is None or state.status != "active":
                        state.last_event_time = ts
                        state.events_applied += 1
                        return state, []
                    percent = objectives.profit_target_percent
                    initial = state.initial_balance
                    target = (
                        objectives.profit_target_amount
                        if percent is None
                        else percent / 100.0 * initial
                    )
                    if target is not None and state.balance - initial < target:
                        state.last_event_time = ts
                        state.events_applied += 1
                        return state, []
            quiet = _quiet_tick(state, event)
        elif type(event) is TradeEvent or type(event) is TradeRecord:
            quiet = _quiet_trade(state, event)
        else:
            quiet = None
        if quiet is not None:
            return state, [] if not quiet else [i for i in quiet if isinstance(i, BreachEvent)]
    state, outputs = _step(state, event, resolve)
    if not outputs:
        return state, []
    return state, [item for item in outputs if isinstance(item, BreachEvent)]
