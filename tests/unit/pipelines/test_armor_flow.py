"""The Armor dataflow over the in-process bus gives what the pure engine gives, per account
in order, and turns every bad message into a dead letter with the reason."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.bus import DeadLetter, EventPublisher, partition_for
from pipelines.inprocess import InProcessPipeline
from schemas import BreachEvent, parse_event

from .streams import (
    START,
    account,
    balance,
    breach_days,
    by_account,
    closed_trade,
    expected_breaches,
    make_bus,
    publish_lines,
    read_all,
)


def run(lines: list[str], partitions: int = 4) -> tuple[list[BreachEvent], list[DeadLetter]]:
    bus, topics = make_bus(partitions)
    publish_lines(bus, topics, lines)
    InProcessPipeline(bus, topics).run_until_end()
    breaches = [BreachEvent.model_validate_json(v) for v in read_all(bus, topics.breaches)]
    letters = [DeadLetter.model_validate_json(v) for v in read_all(bus, topics.deadletter)]
    return breaches, letters


def test_breaches_match_the_pure_engine_account_by_account() -> None:
    lines = breach_days(accounts=12, days=3)
    breaches, letters = run(lines)
    expected = expected_breaches(lines)
    assert len(expected) == 12 * 3 * 3
    assert letters == []
    assert by_account(breaches) == by_account(expected)  # same breaches, same order per account


def test_ftmo_daily_loss_reaches_the_breach_topic_keyed_by_account() -> None:
    bus, topics = make_bus()
    publish_lines(
        bus,
        topics,
        [
            account("A1"),
            balance("A1", START, 100_000.0),
            balance("A1", START + timedelta(hours=1), 94_999.0),
        ],
    )
    InProcessPipeline(bus, topics).run_until_end()
    messages = bus.reader(topics.breaches).read(100, 0.0)
    breaches = [BreachEvent.model_validate_json(m.value or b"") for m in messages]
    assert [(b.rule, b.level) for b in breaches] == [
        ("max_daily_loss", 1),
        ("max_daily_loss", 2),
        ("max_daily_loss", 3),
    ]
    assert breaches[-1].value == 5001.0
    assert {m.key for m in messages} == {b"A1"}
    assert {m.partition for m in messages} == {partition_for("A1", topics.partitions)}


def test_bad_input_becomes_dead_letters_and_the_flow_carries_on() -> None:
    lines = [
        balance("EARLY", START, 90_000.0),  # before its account event
        account("A1"),
        '{"type": "balance", "account_id": "A1", "ts": "not a time"}',
        "not json at all",
        account("B1", ruleset="no-such-firm"),
        balance("B1", START, 90_000.0),  # its account was rejected, so it is unknown too
        balance("A1", START, 94_000.0),
    ]
    breaches, letters = run(lines)
    assert [(b.account_id, b.rule, b.level) for b in breaches] == [
        ("A1", "max_daily_loss", 1),
        ("A1", "max_daily_loss", 2),
        ("A1", "max_daily_loss", 3),
    ]
    reasons = sorted(letter.reason for letter in letters)
    assert len(reasons) == 5
    assert any("'EARLY' is not registered" in r for r in reasons)
    assert any("field 'balance.ts'" in r for r in reasons)
    assert any("not valid JSON" in r for r in reasons)
    assert any("unknown ruleset 'no-such-firm'" in r for r in reasons)
    assert any("'B1' is not registered" in r for r in reasons)
    assert all(r.startswith("test.events[") for r in reasons)
    assert {letter.raw for letter in letters} >= {"not json at all"}


def test_a_rejected_ruleset_change_keeps_the_account_as_it_was() -> None:
    lines = [
        account("A1"),
        account("A1", ruleset="no-such-firm"),
        balance("A1", START, 94_000.0),
    ]
    breaches, letters = run(lines)
    assert len(letters) == 1
    assert [b.level for b in breaches] == [1, 2, 3]  # still judged by ftmo-2step


def test_one_partition_or_many_gives_the_same_breaches() -> None:
    lines = breach_days(accounts=5, days=2)
    one, _ = run(lines, partitions=1)
    many, _ = run(lines, partitions=7)
    assert by_account(one) == by_account(many)


# Hypothesis: any interleaving of a few accounts' ticks, with junk mixed in, gives the
# pure engine's breaches account by account.
equities = st.floats(min_value=85_000.0, max_value=101_000.0, allow_nan=False)
tick = st.tuples(
    st.sampled_from(["A", "B", "C"]),
    st.integers(min_value=0, max_value=72),  # hours after START
    equities,
    st.sampled_from(["balance", "balance", "trade", "junk"]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tick, min_size=1, max_size=40))
def test_any_stream_gives_the_pure_engines_breaches(
    ticks: list[tuple[str, int, float, str]],
) -> None:
    lines = [account("A"), account("B", ruleset="personal"), account("C", "apex-50k-intraday")]
    hours = dict.fromkeys("ABC", 0)
    for number, (who, step, equity, kind) in enumerate(ticks):
        hours[who] = max(hours[who], step)  # each account's own ticks move forward in time
        when = START + timedelta(hours=hours[who])
        if kind == "balance":
            lines.append(balance(who, when, equity))
        elif kind == "trade":
            lines.append(closed_trade(who, f"T{number}", when, pnl=equity - 100_000.0))
        else:
            lines.append('{"type": "trade", "account_id": "' + who + '"}')
    breaches, letters = run(lines, partitions=3)
    assert by_account(breaches) == by_account(expected_breaches(lines))
    assert len(letters) == sum(1 for t in ticks if t[3] == "junk")


def test_a_started_pipeline_judges_live_events_until_stopped() -> None:
    bus, topics = make_bus()
    pipeline = InProcessPipeline(bus, topics, snapshot_interval_seconds=0.2)
    pipeline.start()
    try:
        events = EventPublisher(bus.publisher(), topics)
        events.publish_event(parse_event(account("LIVE"), "test"))
        events.publish_event(parse_event(balance("LIVE", START, 94_000.0), "test"))
        reader = bus.reader(topics.breaches)
        seen: list[bytes] = []
        for _ in range(100):  # up to 10 s on a busy machine; usually milliseconds
            seen.extend(m.value or b"" for m in reader.read(10, 0.1))
            if len(seen) == 3:
                break
        assert pipeline.running
    finally:
        pipeline.stop()
    assert [BreachEvent.model_validate_json(v).level for v in seen] == [1, 2, 3]
    assert not pipeline.running
