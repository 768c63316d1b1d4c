"""The simulated feed: deterministic for a seed, valid contract events, every rule reached."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from connectors.simulator import PROFILES, SimulatedDesk, run_feed, to_event
from connectors.simulator.walk import DRIFTING, profile_of
from infra.bus import EventPublisher
from infra.rulesets import RulesetCatalog
from risk_engine import Armor
from schemas import (
    RULE_NAMES,
    AccountEvent,
    BalanceEvent,
    StatusEvent,
    TradeEvent,
    event_json,
    parse_event,
)

from .streams import make_bus

AnyEvent = AccountEvent | BalanceEvent | TradeEvent

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def desk(accounts: int = 24, seed: int = 7) -> SimulatedDesk:
    return SimulatedDesk(
        accounts, seed=seed, start=START, tick_interval=timedelta(milliseconds=100)
    )


def feed(accounts: int, records: int, seed: int = 7) -> list[str]:
    return [
        event_json(to_event(r)) for r in itertools.islice(desk(accounts, seed).records(), records)
    ]


def test_the_same_seed_gives_the_same_feed_and_another_seed_another() -> None:
    assert feed(10, 2_000) == feed(10, 2_000)
    assert feed(10, 2_000) != feed(10, 2_000, seed=8)


def test_accounts_come_first_then_valid_ticks_in_event_time_order() -> None:
    lines = feed(12, 3_000)
    events = [parse_event(line, f"line {n}") for n, line in enumerate(lines)]
    assert [e.type for e in events[:12]] == ["account"] * 12
    assert {e.type for e in events[12:]} == {"balance", "trade"}
    times = [e.ts for e in events[12:] if e.type == "balance"]
    assert times == sorted(times)
    assert times[0] == START


def test_one_account_in_four_drifts_and_each_rule_has_a_drifter() -> None:
    profiles = [profile_of(index) for index in range(24)]
    assert Counter(p != "steady" for p in profiles)[True] == 6
    assert set(profiles) == set(PROFILES)
    assert set(DRIFTING) == set(PROFILES) - {"steady"}


def test_drifting_accounts_reach_every_rule() -> None:
    armor = Armor(RulesetCatalog())
    reached: set[tuple[str, int]] = set()
    for record in itertools.islice(desk().records(), 6_000):
        reached.update((b.rule, b.level) for b in armor.process(to_event(record)))
    assert {rule for rule, level in reached if level == 3} == set(RULE_NAMES)


def test_the_demo_story_names_one_drifter_per_rule_then_steady_accounts() -> None:
    story = SimulatedDesk(8, seed=7, start=START, tick_interval=timedelta(seconds=1), story=True)
    accounts = [to_event(account) for account in story.accounts()]
    assert [(a.account_id, a.ruleset) for a in accounts if isinstance(a, AccountEvent)] == [
        ("SIM00000", "ftmo-2step"),
        ("SIM00001", "ftmo-1step"),
        ("SIM00002", "apex-50k-intraday"),
        ("SIM00003", "personal"),
        ("SIM00004", "personal"),
        ("SIM00005", "personal"),
        ("SIM00006", "ftmo-2step"),
        ("SIM00007", "ftmo-2step"),
    ]
    assert isinstance(accounts[2], AccountEvent)
    assert accounts[2].name == "Apex 50k · trailing drawdown (SIM00002)"
    # Without the story the names stay as they were.
    assert to_event(desk(1).accounts()[0]).name == "simulated SIM00000"  # type: ignore[union-attr]


def test_the_demo_story_reaches_every_rule_in_its_first_minute_and_fails_one_account() -> None:
    """At the demo's default 40 ticks/s, 2,400 ticks are its first minute; the traders obey
    the status changes as the demo's feed makes them."""
    story = SimulatedDesk(8, seed=7, start=START, tick_interval=timedelta(seconds=1), story=True)
    armor = Armor(RulesetCatalog())
    reached: set[tuple[str, int]] = set()
    for record in itertools.islice(story.records(), 8 + 2_400):
        reached.update((b.rule, b.level) for b in armor.process(to_event(record)))
        for state in armor.accounts.values():
            if state.status != "active":
                story.apply_status(state.account_id, state.status, state.status_until)
    assert {rule for rule, level in reached if level == 3} >= set(RULE_NAMES) - {"max_loss"}
    statuses = {account: state.status for account, state in armor.accounts.items()}
    assert statuses["SIM00002"] == "failed"  # the trailing drawdown is a rule for life
    assert statuses["SIM00000"] == "locked"  # the daily loss locks it for the day
    assert statuses["SIM00006"] == statuses["SIM00007"] == "active"
    assert not story.trading("SIM00002")


def test_balances_follow_closed_trades() -> None:
    balances: dict[str, float] = {}
    for record in itertools.islice(desk(8).records(), 3_000):
        event = to_event(record)
        if event.type == "account":
            balances[event.account_id] = event.initial_balance
        elif event.type == "trade" and event.status == "closed":
            assert event.pnl is not None
            balances[event.account_id] += event.pnl
        elif event.type == "balance":
            assert event.balance == pytest.approx(balances[event.account_id], abs=0.05)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_feed_publishes_accounts_then_ticks_at_the_rate() -> None:
    bus, topics = make_bus()
    clock = FakeClock()
    report = run_feed(
        desk(6),
        EventPublisher(bus.publisher(), topics),
        rate=1_000.0,
        duration=0.5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert report.accounts == 6
    assert 500 <= report.events - 6 <= 502  # 1,000/s for 0.5 s of the fake clock
    published = bus.reader(topics.events).read(10_000, 0.0)
    assert len(published) == report.events
    assert sum(1 for m in published if b'"type":"account"' in (m.value or b"")) == 6
    for message in published:
        event = parse_event(message.value or b"", "test")
        assert message.key == event.account_id.encode()


def test_the_feed_stops_after_max_events() -> None:
    bus, topics = make_bus()
    clock = FakeClock()
    report = run_feed(
        desk(3),
        EventPublisher(bus.publisher(), topics),
        rate=100.0,
        max_events=50,
        clock=clock,
        sleep=clock.sleep,
    )
    assert report.events == 53
    assert sum(bus.end_offsets(topics.events).values()) == 53


def obeying_desk(records: int) -> tuple[list[AnyEvent], list[StatusEvent]]:
    """A desk whose traders hear each status change at once, as from their dashboard:
    a minute between slots, so days pass and locks end."""
    trading = SimulatedDesk(24, seed=7, start=START, tick_interval=timedelta(minutes=1))
    armor = Armor(RulesetCatalog())
    events: list[AnyEvent] = []
    changes: list[StatusEvent] = []
    for record in itertools.islice(trading.records(), records):
        event = to_event(record)
        events.append(event)
        for output in armor.process_all(event):
            if isinstance(output, StatusEvent):
                changes.append(output)
                assert trading.apply_status(output.account_id, output.status, output.until)
    return events, changes


def event_time(event: AnyEvent) -> datetime:
    assert not isinstance(event, AccountEvent)
    return event.event_time


def test_a_failed_account_flattens_and_never_trades_again() -> None:
    events, changes = obeying_desk(30_000)
    failed = [change for change in changes if change.status == "failed"]
    assert {change.rule for change in failed} == {"max_loss", "trailing_drawdown"}
    for change in failed:
        after = [
            e
            for e in events
            if e.account_id == change.account_id
            and not isinstance(e, AccountEvent)
            and event_time(e) > change.ts
        ]
        # At most the close of the open position and a flat balance, then silence.
        assert 1 <= len(after) <= 2, after
        assert isinstance(after[-1], BalanceEvent)
        assert after[-1].equity == after[-1].balance
        assert all(e.type == "balance" or e.status == "closed" for e in after)


def test_a_locked_account_sits_out_the_day_and_trades_again_the_next() -> None:
    events, changes = obeying_desk(30_000)
    locked = [change for change in changes if change.status == "locked"]
    assert {change.rule for change in locked} >= {"max_daily_loss", "overtrading"}
    resumed = 0
    for change in locked:
        assert change.until is not None
        during = [
            e
            for e in events
            if e.account_id == change.account_id
            and not isinstance(e, AccountEvent)
            and change.ts < event_time(e) < change.until
        ]
        assert len(during) <= 2, during  # only the flattening close and balance
        assert not any(e.type == "trade" and e.status == "open" for e in during)
        unlocked = [
            c
            for c in changes
            if c.account_id == change.account_id and c.status == "active" and c.ts >= change.until
        ]
        resumed += bool(unlocked)
    assert resumed >= len(locked) - 24  # all but (at most) each account's last lock ended


def test_the_feed_ends_when_every_account_has_failed() -> None:
    one = SimulatedDesk(2, seed=3, start=START, tick_interval=timedelta(seconds=1))
    records = one.records()
    list(itertools.islice(records, 40))
    assert one.apply_status("SIM00000", "failed")
    assert one.apply_status("SIM00001", "passed")
    assert not one.apply_status("NOT-OURS", "failed")
    rest = list(itertools.islice(records, 100))
    assert len(rest) <= 4  # each account's flattening close (if open) and balance
    assert {r.login for r in rest} == {"SIM00000", "SIM00001"}
    assert not one.trading("SIM00000")


def test_run_feed_hears_status_changes_from_the_status_topic() -> None:
    bus, topics = make_bus()
    bus.create_topics(["t.status"], 1)
    trading = SimulatedDesk(2, seed=3, start=START, tick_interval=timedelta(seconds=1))
    status = StatusEvent(
        status_id="x",
        account_id="SIM00000",
        status="failed",
        previous="active",
        ts=START,
        rule="max_loss",
        message="failed",
    )
    publisher = bus.publisher()
    publisher.publish("t.status", "SIM00000", status.model_dump_json().encode())
    publisher.publish("t.status", "SIM00001", b"not a status")
    clock = FakeClock()
    report = run_feed(
        trading,
        EventPublisher(bus.publisher(), topics),
        rate=1_000.0,
        max_events=200,
        clock=clock,
        sleep=clock.sleep,
        statuses=bus.reader("t.status"),
    )
    assert report.status_changes == 1
    assert not trading.trading("SIM00000") and trading.trading("SIM00001")
    assert "1 status changes obeyed" in report.line()


def test_event_time_stays_on_the_clock_when_an_account_stops() -> None:
    """Two accounts a second apart; the first fails at once. Its flat report takes the
    first slot (START), then the second trades every second: +1 s, +2 s, +3 s (not every
    other second, as when a stopped account still used up its slots)."""
    trading = SimulatedDesk(2, seed=3, start=START, tick_interval=timedelta(seconds=1))
    trading.apply_status("SIM00000", "failed")
    records = [to_event(r) for r in itertools.islice(trading.records(), 2 + 1 + 12)]
    first = [e for e in records if e.type == "balance" and e.account_id == "SIM00000"]
    second = [e.ts for e in records if e.type == "balance" and e.account_id == "SIM00001"]
    assert [e.ts for e in first] == [START]
    assert second[:3] == [START + timedelta(seconds=s) for s in (1, 2, 3)]


def test_when_every_account_is_locked_time_jumps_to_the_first_unlock() -> None:
    trading = SimulatedDesk(2, seed=3, start=START, tick_interval=timedelta(seconds=1))
    later = START + timedelta(hours=5)
    trading.apply_status("SIM00000", "locked", later + timedelta(hours=1))
    trading.apply_status("SIM00001", "locked", later)
    records = [to_event(r) for r in itertools.islice(trading.records(), 2 + 2 + 1)]
    # Both flat reports (START, +1 s), then the first to unlock trades at its unlock time.
    times = [(e.account_id, e.ts) for e in records if e.type == "balance"]
    assert times == [
        ("SIM00000", START),
        ("SIM00001", START + timedelta(seconds=1)),
        ("SIM00001", later),
    ]
