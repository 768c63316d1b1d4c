"""The live output on the in-process twin: standings, breaches and status changes per
account, in order, coalesced to a bounded rate; the writer survives a store that fails."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest

from infra.bus import InProcessBus, Topics
from infra.live import InMemoryLive, LiveError, LiveItem, Subscription, standing_key
from pipelines.inprocess import InProcessPipeline
from pipelines.live import LiveWriter
from schemas import StatusEvent
from schemas.state import AccountSnapshot

from .streams import START, account, balance, publish_lines, read_all


def make_bus() -> tuple[InProcessBus, Topics]:
    bus = InProcessBus()
    topics = Topics("t.events", "t.breaches", "t.deadletter", 4, status="t.status")
    bus.create_topics(topics.all(), 4)
    return bus, topics


def drain(subscription: Subscription) -> list[dict[str, object]]:
    found = []
    while (message := subscription.get(0.0)) is not None:
        found.append(json.loads(message[1]))
    return found


def summary(message: dict[str, object]) -> tuple[object, ...]:
    kind = message["kind"]
    body = message[str(kind)]
    assert isinstance(body, dict)
    if kind == "breach":
        return ("breach", body["rule"], body["level"])
    if kind == "status":
        return ("status", body["status"])
    return ("state", message["seq"], body["status"], body["equity"])


def test_a_level_3_tick_publishes_the_breaches_the_lock_and_the_standing_in_order() -> None:
    bus, topics = make_bus()
    live = InMemoryLive("t1")
    watcher = live.subscribe(["A1"])
    publish_lines(
        bus,
        topics,
        [account("A1"), balance("A1", START, 100_000.0), balance("A1", START, 94_000.0)],
    )
    InProcessPipeline(
        bus, topics, live=lambda: live, standing_interval_seconds=60.0
    ).run_until_end()

    messages = [summary(m) for m in drain(watcher)]
    # The first tick's standing goes at once; the level-3 tick's breaches and the lock
    # go with its standing at once too (an eventful account is never held back).
    assert messages[-5:] == [
        ("breach", "max_daily_loss", 1),
        ("breach", "max_daily_loss", 2),
        ("breach", "max_daily_loss", 3),
        ("status", "locked"),
        ("state", messages[-1][1], "locked", 94_000.0),
    ]
    standing = live.standing("A1")
    assert standing is not None
    assert (standing.status, standing.equity, standing.status_rule) == (
        "locked",
        94_000.0,
        "max_daily_loss",
    )
    assert standing.seq == messages[-1][1]
    daily = next(rule for rule in standing.rules if rule.rule == "max_daily_loss")
    assert (daily.level, daily.headroom_breach) == (3, 0)
    # The key holds exactly AccountSnapshot's JSON, as a reader parses it.
    text = live.raw(standing_key("t1", "A1"))
    assert text is not None and AccountSnapshot.model_validate_json(text) == standing

    (status_line,) = read_all(bus, "t.status")
    status = StatusEvent.model_validate_json(status_line)
    assert (status.status, status.previous, status.rule) == ("locked", "active", "max_daily_loss")
    assert read_all(bus, "t.breaches") != []


def test_a_fast_feed_is_coalesced_and_the_latest_standing_is_never_lost() -> None:
    bus, topics = make_bus()
    live = InMemoryLive("t2")
    watcher = live.subscribe()
    lines = [account("A1"), account("B1")]
    for n in range(300):  # steady ticks, no breach: 99,700 … 100,000 … no rule moves
        lines.append(balance("A1", START + timedelta(seconds=n), 99_700.0 + n))
        lines.append(balance("B1", START + timedelta(seconds=n), 100_000.0 + n))
    publish_lines(bus, topics, lines)
    InProcessPipeline(
        bus, topics, live=lambda: live, standing_interval_seconds=60.0
    ).run_until_end()

    states = [m for m in drain(watcher) if m["kind"] == "state"]
    per_account: dict[str, list[dict[str, object]]] = {}
    for message in states:
        body = message["state"]
        assert isinstance(body, dict)
        per_account.setdefault(str(body["account_id"]), []).append(body)
    # 301 changes each, and one interval never ends during the run: the first batch's
    # standing goes at once, the rest wait and the latest goes at the end of the input
    # (one standing in all when a single batch held every tick).
    counts = {name: len(found) for name, found in per_account.items()}
    assert set(counts) == {"A1", "B1"}
    assert all(1 <= count <= 2 for count in counts.values()), counts
    last_a, last_b = live.standing("A1"), live.standing("B1")
    assert last_a is not None and last_b is not None
    assert (last_a.equity, last_b.equity) == (99_999.0, 100_299.0)
    assert (last_a.seq, last_b.seq) == (counts["A1"], counts["B1"])
    assert (last_a.events_applied, last_b.events_applied) == (301, 301)


def test_a_running_pipeline_publishes_at_most_one_standing_per_interval() -> None:
    bus, topics = make_bus()
    live = InMemoryLive("t3")
    watcher = live.subscribe(["A1"])
    interval = 0.2
    pipeline = InProcessPipeline(bus, topics, live=lambda: live, standing_interval_seconds=interval)
    pipeline.start()
    try:
        publish_lines(bus, topics, [account("A1")])
        wait_for(lambda: live.standing("A1") is not None)  # the pipeline is running
        started = time.monotonic()
        for n in range(60):
            publish_lines(bus, topics, [balance("A1", START + timedelta(seconds=n), 99_000.0 + n)])
            time.sleep(0.01)
        deadline = time.monotonic() + 10
        latest = live.standing("A1")
        while (latest is None or latest.equity != 99_059.0) and time.monotonic() < deadline:
            time.sleep(0.02)
            latest = live.standing("A1")
        elapsed = time.monotonic() - started
    finally:
        pipeline.stop()
    assert latest is not None and latest.equity == 99_059.0  # the last tick's, held and sent
    states = [m for m in drain(watcher) if m["kind"] == "state"]
    # The registration's at once; of the 60 ticks' (0.6 s or more), at most one per
    # interval of the time it all took, the last one included.
    assert 2 <= len(states) <= 2 + elapsed / interval
    assert len(states) < 61
    assert [m["seq"] for m in states] == list(range(1, len(states) + 1))


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def snapshot_of(account_id: str, equity: float) -> AccountSnapshot:
    return AccountSnapshot(
        account_id=account_id,
        ruleset="ftmo-2step",
        currency="USD",
        initial_balance=100_000.0,
        balance=100_000.0,
        equity=equity,
        start_of_day_balance=100_000.0,
        start_of_day_equity=100_000.0,
        highest_eod_balance=100_000.0,
        peak_equity=100_000.0,
        rules=(),
        events_applied=1,
        duplicate_trades=0,
        breaches_emitted=0,
    )


def status_of(account_id: str, number: int) -> StatusEvent:
    return StatusEvent(
        status_id=f"s{number}",
        account_id=account_id,
        status="locked",
        previous="active",
        ts=START,
        message=f"change {number}",
    )


class FlakyStore:
    """Fails while ``down`` is set; records every batch it accepted."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.accepted: list[list[LiveItem]] = []
        self.attempts = 0
        self.closed = False
        self.changed = threading.Condition()

    def publish(self, items: Sequence[LiveItem]) -> None:
        with self.changed:
            self.attempts += 1
            self.changed.notify_all()
            if self.down.is_set():
                raise LiveError("store unreachable (test)")
            self.accepted.append(list(items))
            self.changed.notify_all()

    def close(self) -> None:
        self.closed = True

    def wait_for(self, check: object, timeout: float = 10.0) -> None:
        assert callable(check)
        with self.changed:
            assert self.changed.wait_for(check, timeout), "the writer did not get there"


def test_the_writer_keeps_the_latest_standing_and_every_event_while_the_store_is_down() -> None:
    store = FlakyStore()
    store.down.set()
    writer = LiveWriter(store, retry_initial_seconds=0.01, retry_max_seconds=0.02)
    writer.write([snapshot_of("A1", 1.0), status_of("A1", 1)])
    store.wait_for(lambda: store.attempts >= 2)  # failed and retried
    writer.write([snapshot_of("A1", 2.0), status_of("A1", 2), snapshot_of("B1", 5.0)])
    assert writer.pending() >= 3  # never blocked, nothing published yet
    store.down.clear()
    store.wait_for(lambda: writer.pending() == 0 and store.accepted)
    writer.close()
    published = [item for batch in store.accepted for item in batch]
    events = [item.status_id for item in published if isinstance(item, StatusEvent)]
    standings = {
        item.account_id: item.equity for item in published if isinstance(item, AccountSnapshot)
    }
    assert events == ["s1", "s2"]  # both, in order
    assert standings == {"A1": 2.0, "B1": 5.0}  # A1's older standing superseded
    assert sum(isinstance(item, AccountSnapshot) for item in published) == 2
    assert writer.stats.failures >= 1
    assert writer.stats.last_error == "store unreachable (test)"
    assert store.closed


def test_the_writer_drops_the_oldest_events_past_its_bound_and_counts_them() -> None:
    store = FlakyStore()
    store.down.set()
    writer = LiveWriter(store, max_events=3, retry_initial_seconds=0.01, retry_max_seconds=0.02)
    writer.write([status_of("A1", n) for n in range(5)])
    store.wait_for(lambda: store.attempts >= 1)
    store.down.clear()
    store.wait_for(lambda: writer.pending() == 0 and store.accepted)
    writer.close()
    published = [item for batch in store.accepted for item in batch]
    assert [item.status_id for item in published if isinstance(item, StatusEvent)] == [
        "s2",
        "s3",
        "s4",
    ]
    assert writer.stats.dropped_events == 2


def test_closing_while_the_store_is_down_gives_up_after_one_last_try() -> None:
    store = FlakyStore()
    store.down.set()
    writer = LiveWriter(store, retry_initial_seconds=5.0, retry_max_seconds=5.0)
    writer.write([snapshot_of("A1", 1.0)])
    store.wait_for(lambda: store.attempts >= 1)
    started = time.monotonic()
    writer.close(timeout=10.0)
    assert time.monotonic() - started < 5.0  # the backoff wait is cut short by close
    assert store.accepted == [] and store.closed


def test_a_slow_subscriber_loses_what_its_queue_cannot_hold_and_is_marked() -> None:
    live = InMemoryLive("t4")
    slow = live.subscribe(["A1"], capacity=2)
    fast = live.subscribe(["A1"], capacity=100)
    other = live.subscribe(["B1"])
    live.publish([snapshot_of("A1", float(n)) for n in range(5)])
    assert slow.overflowed and slow.dropped == 3
    first, second = slow.get(0), slow.get(0)
    assert first is not None and second is not None
    assert [json.loads(m[1])["seq"] for m in (first, second)] == [1, 2]
    assert len(drain(fast)) == 5 and not fast.overflowed
    assert other.get(0.0) is None
    fast.close()
    live.publish([snapshot_of("A1", 9.0)])
    assert fast.get(0.0) is None


def test_the_twin_numbers_standings_per_account() -> None:
    live = InMemoryLive("t5")
    live.publish([snapshot_of("A1", 1.0), snapshot_of("B1", 1.0), snapshot_of("A1", 2.0)])
    a1, b1 = live.standing("A1"), live.standing("B1")
    assert a1 is not None and b1 is not None
    assert (a1.seq, a1.equity, b1.seq) == (2, 2.0, 1)


def test_a_negative_standing_interval_is_refused() -> None:
    bus, topics = make_bus()
    with pytest.raises(ValueError, match="cannot be negative"):
        InProcessPipeline(
            bus, topics, live=InMemoryLive, standing_interval_seconds=-1
        ).run_until_end()


class BrokenStore:
    """A publisher with a bug: it raises something that is not a LiveError, every time."""

    def __init__(self) -> None:
        self.attempts = 0

    def publish(self, items: Sequence[LiveItem]) -> None:
        self.attempts += 1
        raise RuntimeError("a bug in the publisher (test)")

    def close(self) -> None:
        """Nothing to release."""


def test_an_unexpected_error_is_retried_with_backoff_not_in_a_hot_loop() -> None:
    store = BrokenStore()
    writer = LiveWriter(store, retry_initial_seconds=0.05, retry_max_seconds=0.1)
    writer.write([snapshot_of("A1", 1.0)])
    time.sleep(0.5)
    writer.close()
    # At least 0.05 s between tries after the second, plus a last try at close: a handful
    # in 0.5 s, where a hot loop makes thousands.
    assert 2 <= store.attempts <= 15
    assert writer.stats.last_error == "unexpected RuntimeError (logged)"
    assert writer.stats.standings == 0
