"""Sinks: breach messages carry the contract JSON, the account key and timing headers;
what the broker has not acknowledged is the sink's snapshot and is written again on
resume, so an epoch commit never waits for the broker and never loses a breach."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from infra.bus import DeliveryCallback, DeliveryError, Headers, InProcessBus, murmur2
from pipelines.sinks import (
    EMITTED_HEADER,
    RECEIVED_HEADER,
    EmittedBreach,
    WriterPartition,
    WriterSink,
    breach_topic_writer,
)
from schemas import BreachEvent

BREACH = BreachEvent(
    breach_id="b1",
    account_id="A1",
    rule="max_daily_loss",
    level=3,
    ts=datetime(2026, 3, 2, 10, 12, 3, tzinfo=UTC),
    value=5150.0,
    limit=5000.0,
    threshold=94850.0,
    message="Daily loss 5,150.00 reached the limit 5,000.00",
)


def breach(number: int) -> EmittedBreach:
    return EmittedBreach(BREACH.model_copy(update={"breach_id": f"b{number}"}), number)


def test_a_breach_message_is_contract_json_keyed_by_account_with_timings() -> None:
    bus = InProcessBus()
    bus.create_topics(["breaches"], 4)
    writer = breach_topic_writer(bus.publisher(), "breaches")
    writer.write([EmittedBreach(BREACH, tick_received_ns=1_000)])
    assert writer.unconfirmed() == ()  # the in-process bus has it at once
    [message] = bus.reader("breaches").read(10, 0.0)
    assert BreachEvent.model_validate_json(message.value or b"") == BREACH
    assert message.key == b"A1"
    assert message.header(RECEIVED_HEADER) == b"1000"
    emitted = message.header(EMITTED_HEADER)
    assert emitted is not None
    assert int(emitted) > 1_000


class SlowBroker:
    """A publisher whose broker acknowledges only when told to (or refuses)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.waiting: list[DeliveryCallback] = []

    def publish(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: Headers = (),
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        self.sent.append(value)
        if on_delivery is not None:
            self.waiting.append(on_delivery)

    def acknowledge(self, count: int, error: str | None = None) -> None:
        for callback in self.waiting[:count]:
            callback(error)
        del self.waiting[:count]

    def poll(self) -> None:
        return None

    def flush(self, timeout: float = 30.0) -> None:
        self.acknowledge(len(self.waiting))

    def close(self) -> None:
        self.flush()


def test_unacknowledged_breaches_are_the_snapshot_and_are_sent_again_on_resume() -> None:
    broker = SlowBroker()
    sink: WriterSink[EmittedBreach] = WriterSink(
        lambda _part: breach_topic_writer(broker, "breaches"), parts=2
    )
    partition = sink.build_part("out", "0", None)
    partition.write_batch([breach(1), breach(2), breach(3)])
    broker.acknowledge(1)
    snapshot = partition.snapshot()
    assert snapshot == (breach(2), breach(3))  # the epoch commits without waiting

    # A crash, then a resume from that snapshot on a fresh broker connection.
    resumed_broker = SlowBroker()
    resumed: WriterSink[EmittedBreach] = WriterSink(
        lambda _part: breach_topic_writer(resumed_broker, "breaches"), parts=2
    )
    partition = resumed.build_part("out", "0", snapshot)
    assert [b'"breach_id":"b2"' in v for v in resumed_broker.sent] == [True, False]
    assert [b'"breach_id":"b3"' in v for v in resumed_broker.sent] == [False, True]
    partition.close()  # waits for everything
    assert partition.snapshot() == ()


def test_a_delivery_the_broker_refused_stops_the_flow_and_stays_unconfirmed() -> None:
    broker = SlowBroker()
    writer = breach_topic_writer(broker, "breaches")
    writer.write([breach(1)])
    broker.acknowledge(1, error="Broker: Not enough in-sync replicas")
    with pytest.raises(DeliveryError, match="in-sync replicas"):
        writer.unconfirmed()
    assert writer.unconfirmed() == (breach(1),)  # still owed: a resume sends it again


class RecordingWriter:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.closed = False

    def write(self, items: Sequence[int]) -> None:
        self.batches.append(list(items))

    def unconfirmed(self) -> tuple[int, ...]:
        return ()

    def close(self) -> None:
        self.closed = True


def test_a_writer_partition_passes_batches_and_closes_its_writer() -> None:
    writer = RecordingWriter()
    partition = WriterPartition(writer)
    partition.write_batch([1, 2])
    assert partition.snapshot() == ()
    partition.write_batch([3])
    partition.close()
    assert writer.batches == [[1, 2], [3]]
    assert writer.closed


def test_the_sink_routes_a_key_to_one_partition_consistently() -> None:
    sink: WriterSink[int] = WriterSink(lambda _part: RecordingWriter(), parts=4)
    assert sink.list_parts() == ["0", "1", "2", "3"]
    assert sink.part_fn("A1") == sink.part_fn("A1") == murmur2(b"A1") & 0x7FFFFFFF
