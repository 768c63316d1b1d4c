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
from schemas import RULE_NAMES, event_json, parse_event

from .streams import make_bus

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
