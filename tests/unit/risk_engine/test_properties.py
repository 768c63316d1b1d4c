"""Invariants of the engine over generated event streams (Hypothesis)."""

from __future__ import annotations

import math
import pickle
from collections import defaultdict
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from risk_engine import DAILY_RULES, AccountState, Armor, apply, breach_id, rules, step
from schemas import AccountEvent, BalanceEvent, BreachEvent, StatusEvent, TradeEvent
from tests.unit.risk_engine.builders import CATALOG, utc

Event = AccountEvent | BalanceEvent | TradeEvent
RULESETS = ["ftmo-2step", "ftmo-1step", "topstep-50k", "apex-50k-intraday", "personal"]


@st.composite
def account_streams(draw: st.DrawFn, account_id: str) -> list[Event]:
    """One account's events in time order: balance walks, trades, some duplicates."""
    initial = draw(st.sampled_from([25_000.0, 50_000.0, 100_000.0]))
    events: list[Event] = [
        AccountEvent(
            account_id=account_id,
            ruleset=draw(st.sampled_from(RULESETS)),
            initial_balance=initial,
            currency="USD",
        )
    ]
    now: datetime = utc("2026-03-06 12:00") + timedelta(minutes=draw(st.integers(0, 600)))
    balance = initial
    steps = draw(st.integers(1, 60))
    for number in range(steps):
        now += timedelta(minutes=draw(st.sampled_from([1, 3, 7, 20, 90, 400, 1440])))
        kind = draw(st.sampled_from(["tick", "tick", "trade", "open", "dup"]))
        if kind == "tick":
            balance += draw(st.floats(-0.03, 0.025)) * initial
            equity = balance + draw(st.floats(-0.04, 0.02)) * initial
            events.append(
                BalanceEvent(account_id=account_id, ts=now, balance=balance, equity=equity)
            )
        elif kind in ("trade", "open"):
            entry = now - timedelta(minutes=draw(st.integers(0, 30)))
            quantity = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]))
            if kind == "open":
                events.append(
                    TradeEvent(
                        account_id=account_id,
                        broker_trade_id=f"T{number}",
                        status="open",
                        symbol="ES",
                        side="short",
                        quantity=quantity,
                        entry_price=5000.0,
                        entry_time=entry,
                    )
                )
            else:
                pnl = draw(st.floats(-0.015, 0.01)) * initial
                events.append(
                    TradeEvent(
                        account_id=account_id,
                        broker_trade_id=f"T{number}",
                        status="closed",
                        symbol="ES",
                        side="long",
                        quantity=quantity,
                        entry_price=5000.0,
                        exit_price=5001.0,
                        entry_time=entry,
                        exit_time=now,
                        pnl=pnl,
                    )
                )
        elif len(events) > 1:
            events.append(events[draw(st.integers(1, len(events) - 1))])
    return events


@st.composite
def merged_streams(draw: st.DrawFn) -> list[Event]:
    """Several accounts' streams interleaved, each account's order kept."""
    streams = [draw(account_streams(f"ACC{i}")) for i in range(draw(st.integers(1, 3)))]
    merged: list[Event] = []
    cursors = [0] * len(streams)
    while any(c < len(s) for c, s in zip(cursors, streams, strict=True)):
        live = [i for i, s in enumerate(streams) if cursors[i] < len(s)]
        pick = draw(st.sampled_from(live))
        merged.append(streams[pick][cursors[pick]])
        cursors[pick] += 1
    return merged


def replay(events: list[Event]) -> list[BreachEvent]:
    armor = Armor(CATALOG)
    return [breach for event in events for breach in armor.process(event)]


def fired_in(breach: BreachEvent, event: Event, days_held: set[str]) -> str:
    """The trading day a daily breach was fired in, read back from its id (which the
    engine derives from the day): one of the days the account held before and after the
    event, or one next to the event's own times. Not simply the day after the event: a
    trade entered on one day and closed on the next fires its entry's checks
    (overtrading, revenge) in the entry's day, then rolls to the exit's."""
    times = [event.entry_time, event.exit_time] if isinstance(event, TradeEvent) else []
    if isinstance(event, BalanceEvent):
        times = [event.ts]
    days = days_held | {
        (moment + timedelta(days=shift)).date().isoformat()
        for moment in times
        if moment is not None
        for shift in (-1, 0, 1)
    }
    found = [
        day
        for day in sorted(days)
        if breach_id(breach.account_id, breach.rule, day, breach.level) == breach.breach_id
    ]
    assert len(found) == 1, (breach, sorted(days))
    return found[0]


@settings(max_examples=80, deadline=None)
@given(merged_streams())
def test_levels_only_rise_within_a_period(events: list[Event]) -> None:
    states: dict[str, AccountState] = {}
    fired: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    ids: set[str] = set()
    for event in events:
        before = states.get(event.account_id)
        held = {before.day.label.isoformat()} if before is not None and before.day else set()
        state, breaches = apply(before, event, CATALOG)
        states[event.account_id] = state
        if state.day is not None:
            held.add(state.day.label.isoformat())
        for breach in breaches:
            period = "life"
            if breach.rule in DAILY_RULES:
                assert state.day is not None
                period = fired_in(breach, event, held)
            fired[(breach.account_id, breach.rule, period)].append(breach.level)
            assert breach.breach_id not in ids
            ids.add(breach.breach_id)
    for sequence in fired.values():
        assert sequence == sorted(set(sequence))
        assert sequence == list(range(1, len(sequence) + 1))


@settings(max_examples=40, deadline=None)
@given(merged_streams())
def test_replay_is_deterministic(events: list[Event]) -> None:
    assert replay(events) == replay(events)


@settings(max_examples=40, deadline=None)
@given(merged_streams())
def test_splitting_per_account_and_merging_gives_the_same_breaches(events: list[Event]) -> None:
    together = replay(events)
    for account_id in {e.account_id for e in events}:
        alone = replay([e for e in events if e.account_id == account_id])
        assert alone == [b for b in together if b.account_id == account_id]


@settings(max_examples=40, deadline=None)
@given(merged_streams(), st.integers(0, 200))
def test_a_pickled_state_resumes_exactly(events: list[Event], cut: int) -> None:
    """What Bytewax recovery relies on: snapshot, restore, and carry on identically."""
    cut = min(cut, len(events))
    armor = Armor(CATALOG)
    for event in events[:cut]:
        armor.process(event)
    restored = Armor(CATALOG)
    restored.accounts = pickle.loads(pickle.dumps(armor.accounts))
    rest_original = [b for e in events[cut:] for b in armor.process(e)]
    rest_restored = [b for e in events[cut:] for b in restored.process(e)]
    assert rest_original == rest_restored


@settings(max_examples=40, deadline=None)
@given(merged_streams())
def test_every_breach_satisfies_the_contract(events: list[Event]) -> None:
    for breach in replay(events):
        assert 1 <= breach.level <= 3
        assert breach.value >= 0
        assert breach.limit > 0
        assert breach.message
        assert BreachEvent.model_validate_json(breach.model_dump_json()) == breach


@settings(max_examples=40, deadline=None)
@given(merged_streams())
def test_the_per_tick_fast_path_changes_nothing(events: list[Event]) -> None:
    """Skipping ticks above the alert equity gives exactly the full evaluation's breaches."""
    fast = replay(events)
    original = rules.equity_alert
    try:
        rules.equity_alert = lambda state, measures=None: math.inf  # every tick: full path
        slow = replay(events)
    finally:
        rules.equity_alert = original
    assert fast == slow


@settings(max_examples=150, deadline=None)
@given(account_streams("P1"))
def test_status_changes_follow_the_rulebook(events: list[Event]) -> None:
    """Over any stream: each change starts from the status before it; nothing follows a
    final status; a lock comes only from a daily level 3 of the same event and ends only
    at its ``until``; a failure only from a life rule's level 3; ids never repeat."""
    state = None
    current = "active"
    seen_ids: set[str] = set()
    for event in events:
        before_until = None if state is None else state.status_until
        state, outputs = step(state, event, CATALOG)
        breaches = [item for item in outputs if isinstance(item, BreachEvent)]
        changes = [item for item in outputs if isinstance(item, StatusEvent)]
        for change in changes:
            assert change.previous == current
            assert current not in ("failed", "passed"), "a final status changed"
            assert change.status_id not in seen_ids
            seen_ids.add(change.status_id)
            if change.status == "locked":
                assert change.rule in DAILY_RULES
                assert any(b.level == 3 and b.rule == change.rule for b in breaches)
                assert change.until is not None and change.until > change.ts
            elif change.status == "failed":
                assert change.rule not in DAILY_RULES
                assert any(b.level == 3 and b.rule == change.rule for b in breaches)
            elif change.status == "active":
                assert current == "locked"
                assert before_until is not None and change.ts >= before_until
            current = change.status
        assert state.status == current
    if state is not None and state.status == "locked":
        assert state.status_until is not None


@settings(max_examples=100, deadline=None)
@given(account_streams("P2"))
def test_apply_reports_exactly_the_breaches_step_reports(events: list[Event]) -> None:
    by_apply: list[BreachEvent] = []
    by_step: list[BreachEvent] = []
    first = second = None
    for event in events:
        first, breaches = apply(first, event, CATALOG)
        by_apply += breaches
        second, outputs = step(second, event, CATALOG)
        by_step += [item for item in outputs if isinstance(item, BreachEvent)]
    assert by_apply == by_step


def _without_alert(state: AccountState | None) -> dict[str, object]:
    """A state's fields but the cached alert equity (the full path keeps it differently)."""
    assert state is not None
    fields = {name: getattr(state, name) for name in AccountState.__dataclass_fields__}
    del fields["equity_alert"]
    return fields


@settings(max_examples=150, deadline=None)
@given(account_streams("P3"))
def test_the_quiet_tick_path_gives_the_full_paths_outputs_and_state(
    events: list[Event],
) -> None:
    """Status changes included: every event's outputs and the state after it are the same
    when no tick may take the fast path (the alert equity forced to +inf)."""
    fast_state = slow_state = None
    original = rules.equity_alert
    for event in events:
        fast_state, fast = step(fast_state, event, CATALOG)
        try:
            rules.equity_alert = lambda state, measures=None: math.inf  # every tick: full path
            slow_state, slow = step(slow_state, event, CATALOG)
        finally:
            rules.equity_alert = original
        assert fast == slow
        assert _without_alert(fast_state) == _without_alert(slow_state)
