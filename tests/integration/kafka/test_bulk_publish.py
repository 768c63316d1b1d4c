"""The bulk publish of imports on a real broker: every event arrives once, in order per
account, keyed by account, and parses back to the event that was published; a
message with a callback of its own still gets it (the default report otherwise)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.bus import EventPublisher, Topics, partition_for
from infra.bus.events import BULK_POLL_EVERY
from infra.bus.kafka import KafkaBus
from schemas import parse_event
from schemas.events import BalanceEvent, TradeEvent

from .support import read_topic


def test_publish_events_delivers_every_event_in_order(kafka: KafkaBus, topics: Topics) -> None:
    start = datetime(2025, 1, 6, 8, tzinfo=UTC)
    events: list[TradeEvent | BalanceEvent] = []
    total = BULK_POLL_EVERY + 500  # crosses one delivery-report poll
    for n in range(total // 2):
        account = f"ACC{n % 3}"
        closed = start + timedelta(seconds=n, microseconds=n % 7)
        events.append(
            TradeEvent(
                account_id=account, broker_trade_id=f"T{n}", status="closed", symbol="ES",
                side="long" if n % 2 else "short", quantity=1.0 + n % 3, entry_price=5000.25,
                entry_time=start, exit_price=5001.0, exit_time=closed, pnl=n * 0.25 - 4.2,
                commission=-4.2, notes="memo" if n % 5 == 0 else None,
            )
        )  # fmt: skip
        events.append(BalanceEvent(account_id=account, ts=closed, balance=n + 0.5, equity=n + 0.5))
    publisher = EventPublisher(kafka.publisher(), topics)
    assert publisher.publish_events(iter(events)) == total
    publisher.flush()
    messages = read_topic(kafka, topics.events, at_least=total)
    assert len(messages) == total
    for account in ("ACC0", "ACC1", "ACC2"):
        mine = [m for m in messages if m.key == account.encode()]
        assert {m.partition for m in mine} == {partition_for(account, topics.partitions)}
        got = [parse_event(m.value or b"", "bulk") for m in mine]
        assert got == [e for e in events if e.account_id == account]


def test_a_message_callback_of_its_own_is_still_called(kafka: KafkaBus, topics: Topics) -> None:
    publisher = kafka.publisher()
    reports: list[str | None] = []
    publisher.publish(topics.events, "A", b"one", on_delivery=reports.append)
    publisher.publish(topics.events, "A", b"two", headers=(("h", b"v"),))
    publisher.flush()
    assert reports == [None]
    messages = read_topic(kafka, topics.events, at_least=2)
    assert [m.value for m in messages] == [b"one", b"two"]
    assert list(messages[1].headers) == [("h", b"v")]
