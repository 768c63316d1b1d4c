"""When standings go: at most one per account per interval, at most N a second for the
process, at once after a breach or a status change, and every held one at the end."""

from __future__ import annotations

import pytest

from infra.bus import InProcessBus, Topics
from infra.live import InMemoryLive
from pipelines.inprocess import InProcessPipeline
from pipelines.live import StandingBudget, StandingSchedule

from .streams import START, account, balance, publish_lines


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def schedule(
    interval: float = 0.1, per_second: float | None = None
) -> tuple[StandingSchedule, Clock]:
    clock = Clock()
    return StandingSchedule(interval, StandingBudget(per_second), clock), clock


def test_an_account_goes_at_most_once_per_interval_and_its_held_change_goes_when_it_ends() -> None:
    plan, clock = schedule(interval=0.1)
    assert plan.changed(["A"], set()) == ["A"]
    clock.now += 0.04
    assert plan.changed(["A"], set()) == []  # held: 0.06 s of the interval left
    assert plan.next_wakeup() == pytest.approx(100.1)
    clock.now += 0.03
    assert plan.changed(["A"], set()) == []  # still held, once
    assert plan.held == 1
    assert plan.due() == []  # 100.07: too early
    clock.now = 100.1
    assert plan.due() == ["A"]
    assert plan.held == 0 and plan.next_wakeup() is None
    clock.now += 0.05
    assert plan.changed(["A"], set()) == []  # the interval runs from 100.1
    clock.now += 0.05
    assert plan.due() == ["A"]


def test_a_breach_or_status_change_sends_the_standing_at_once() -> None:
    plan, clock = schedule(interval=10.0, per_second=10.0)
    assert plan.changed(["A"], set()) == ["A"]
    clock.now += 0.001
    assert plan.changed(["A"], {"A"}) == ["A"]  # inside the interval, and the budget is spent


def test_the_budget_bounds_the_process_and_the_rest_wait_their_turn() -> None:
    # 10 a second, a burst of one: of five accounts changed at once, one goes now, the
    # others one every tenth of a second, in the order they were held.
    plan, clock = schedule(interval=0.0, per_second=10.0)
    assert plan.changed(["A", "B", "C", "D", "E"], set()) == ["A"]
    assert plan.held == 4
    sent: list[str] = []
    for _ in range(4):
        wakeup = plan.next_wakeup()
        assert wakeup is not None
        clock.now = wakeup
        sent += plan.due()
    assert sorted(sent) == ["B", "C", "D", "E"]
    assert clock.now == pytest.approx(100.4)
    assert plan.held == 0


def test_the_end_of_the_input_sends_every_held_standing() -> None:
    plan, clock = schedule(interval=60.0, per_second=1.0)
    assert plan.changed(["A", "B"], set()) == ["A"]
    clock.now += 1.0
    assert plan.changed(["A", "C"], set()) == ["C"]  # A's interval; C takes the new token
    assert plan.rest() == ["A", "B"]
    assert plan.held == 0 and plan.next_wakeup() is None


def test_shards_share_the_process_budget() -> None:
    budget = StandingBudget(10.0)
    clock = Clock()
    first, second = StandingSchedule(0.0, budget, clock), StandingSchedule(0.0, budget, clock)
    assert first.changed(["A"], set()) == ["A"]
    assert second.changed(["B"], set()) == []  # the one token of the burst is spent
    clock.now += 0.1
    assert second.due() == ["B"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        StandingBudget(0.0)
    with pytest.raises(ValueError, match="cannot be negative"):
        StandingSchedule(-0.1, StandingBudget(None))


def test_a_small_budget_delays_standings_but_loses_none_at_the_end() -> None:
    bus = InProcessBus()
    topics = Topics("e", "b", "d", 4)
    bus.create_topics(topics.all(), 4)
    live = InMemoryLive("budget")
    names = [f"A{n:03d}" for n in range(200)]
    publish_lines(
        bus, topics, [account(a) for a in names] + [balance(a, START, 99_000.0) for a in names]
    )
    InProcessPipeline(
        bus, topics, live=lambda: live, standing_interval_seconds=0.0, standings_per_second=20.0
    ).run_until_end()
    for name in names:
        standing = live.standing(name)
        assert standing is not None and standing.equity == 99_000.0, name
