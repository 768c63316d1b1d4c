"""The Kafka adapter on a real broker: idempotent keyed publishing, readers, topic admin."""

from __future__ import annotations

import threading
import uuid

import pytest

from infra.bus import END, BusError, BusMessage, Topics, partition_for
from infra.bus.kafka import KafkaBus

from .support import read_topic


def test_publishers_are_idempotent_and_wait_for_all_replicas(kafka: KafkaBus) -> None:
    config = kafka.producer_config()
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["partitioner"] == "murmur2_random"


def test_a_key_lands_in_its_murmur2_partition_in_publish_order(
    kafka: KafkaBus, topics: Topics
) -> None:
    publisher = kafka.publisher()
    for number in range(200):
        publisher.publish(topics.events, f"ACC{number % 13}", str(number).encode())
    publisher.flush()
    messages = read_topic(kafka, topics.events, at_least=200)
    assert len(messages) == 200
    for message in messages:
        assert message.key is not None
        assert message.partition == partition_for(message.key.decode(), topics.partitions)
        assert message.timestamp_ms is not None
    for account in range(13):
        mine = [int(m.value or b"") for m in messages if m.key == f"ACC{account}".encode()]
        assert mine == list(range(account, 200, 13))


def test_topic_creation_is_repeatable_and_missing_topics_are_named(
    kafka: KafkaBus, topics: Topics
) -> None:
    assert kafka.create_topics(topics.all(), topics.partitions) == []
    assert kafka.partition_count(topics.breaches) == topics.partitions
    missing = f"test.missing.{uuid.uuid4().hex[:8]}"
    with pytest.raises(BusError, match=missing):
        kafka.reader(missing)
    kafka.create_topics([missing], 1)
    assert kafka.partition_count(missing) == 1
    kafka.delete_topics([missing, missing + ".never"])
    with pytest.raises(BusError, match="create it"):
        kafka.partition_count(missing)


def test_a_reader_from_the_end_sees_only_new_messages(kafka: KafkaBus, topics: Topics) -> None:
    publisher = kafka.publisher()
    publisher.publish(topics.events, "A", b"old")
    publisher.flush()
    partition = partition_for("A", topics.partitions)
    reader = kafka.reader(topics.events, {partition: END})
    try:
        assert reader.read(10, 1.0) == []
        publisher.publish(topics.events, "A", b"new")
        publisher.flush()
        seen: list[bytes | None] = []
        for _ in range(50):
            seen.extend(m.value for m in reader.read(10, 0.2))
            if seen:
                break
        assert seen == [b"new"]
    finally:
        reader.close()


def test_headers_survive_the_round_trip(kafka: KafkaBus, topics: Topics) -> None:
    publisher = kafka.publisher()
    publisher.publish(topics.breaches, "A", b"x", (("aetheris-emitted-ns", b"42"),))
    publisher.flush()
    [message] = read_topic(kafka, topics.breaches, at_least=1)
    assert message.header("aetheris-emitted-ns") == b"42"


def test_a_read_returns_what_has_arrived_without_waiting_to_fill_the_batch(
    kafka: KafkaBus, topics: Topics
) -> None:
    """``read(n, timeout)`` waits at most ``timeout`` for the *first* message (the port's
    contract). librdkafka's ``consume(n, timeout)`` waits for all ``n``: a reader asking
    for 10,000 held three waiting messages back for its whole timeout."""
    publisher = kafka.publisher()
    for value in (b"1", b"2", b"3"):
        publisher.publish(topics.events, "A", value)
    publisher.flush()
    reader = kafka.reader(topics.events)
    got: list[bytes | None] = []
    worker = threading.Thread(target=lambda: got.extend(m.value for m in reader.read(10_000, 300)))
    try:
        worker.start()
        worker.join(120)  # a read that waited for 10,000 messages would still be blocked
        assert not worker.is_alive(), "the read waited for its batch to fill"
        assert got and got == [b"1", b"2", b"3"][: len(got)]
    finally:
        worker.join()
        reader.close()


def test_a_reader_without_metadata_reads_the_same_messages_without_stamps_or_headers(
    kafka: KafkaBus, topics: Topics
) -> None:
    """What the pipeline reads with (it uses neither): same keys, values, offsets, order."""
    publisher = kafka.publisher()
    for number in range(50):
        publisher.publish(topics.events, f"ACC{number % 3}", str(number).encode(), (("h", b"1"),))
    publisher.flush()
    partition = partition_for("ACC1", topics.partitions)
    # Counted from the keys, not from the high watermark: Tansu reports the last batch's
    # base offset + 1 there, short of the last offset + 1 when a batch holds several.
    expected = sum(partition_for(f"ACC{n % 3}", topics.partitions) == partition for n in range(50))

    def read(metadata: bool) -> list[BusMessage]:
        reader = kafka.reader(topics.events, {partition: 0}, metadata=metadata)
        seen: list[BusMessage] = []
        for _ in range(100):
            seen.extend(reader.read(1000, 0.2))
            if len(seen) >= expected:
                break
        reader.close()
        return seen

    full, lean = read(True), read(False)
    assert full and all(m.timestamp_ms is not None and m.header("h") == b"1" for m in full)
    assert all(m.timestamp_ms is None and m.headers == () for m in lean)
    assert len(full) == expected and [m[:5] for m in lean] == [m[:5] for m in full]
