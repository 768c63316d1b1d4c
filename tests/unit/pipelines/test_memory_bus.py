"""The in-process bus behaves like Kafka where the pipeline relies on it."""

from __future__ import annotations

import threading

import pytest

from infra.bus import BEGINNING, END, BusError, InProcessBus, partition_for


def test_topics_must_be_created_before_use() -> None:
    bus = InProcessBus()
    with pytest.raises(BusError, match="does not exist"):
        bus.publisher().publish("nowhere", "A1", b"{}")
    assert bus.create_topics(["t"], 3) == ["t"]
    assert bus.create_topics(["t", "u"], 3) == ["u"]  # existing topics are kept
    assert bus.partition_count("t") == 3


def test_a_key_lands_in_its_murmur2_partition_in_publish_order() -> None:
    bus = InProcessBus()
    bus.create_topics(["t"], 4)
    publisher = bus.publisher()
    for number in range(20):
        publisher.publish("t", f"A{number % 5}", str(number).encode())
    messages = bus.reader("t").read(100, 0.0)
    assert len(messages) == 20
    for message in messages:
        assert message.key is not None
        assert message.partition == partition_for(message.key.decode(), 4)
    for key in ("A0", "A1", "A2", "A3", "A4"):
        mine = [m for m in messages if m.key == key.encode()]
        assert [int(m.value or b"") for m in mine] == sorted(int(m.value or b"") for m in mine)
        assert [m.offset for m in mine] == sorted(m.offset for m in mine)


def test_readers_start_at_the_beginning_the_end_or_an_offset() -> None:
    bus = InProcessBus()
    bus.create_topics(["t"], 1)
    publisher = bus.publisher()
    for number in range(5):
        publisher.publish("t", "A", str(number).encode())
    assert bus.end_offsets("t") == {0: 5}
    assert [m.offset for m in bus.reader("t", {0: BEGINNING}).read(10, 0.0)] == [0, 1, 2, 3, 4]
    assert [m.offset for m in bus.reader("t", {0: 3}).read(10, 0.0)] == [3, 4]
    from_end = bus.reader("t", {0: END})
    assert from_end.read(10, 0.0) == []
    publisher.publish("t", "A", b"5")
    assert [m.value for m in from_end.read(10, 0.0)] == [b"5"]


def test_a_waiting_reader_wakes_up_when_a_message_arrives() -> None:
    bus = InProcessBus()
    bus.create_topics(["t"], 2)
    reader = bus.reader("t")
    timer = threading.Timer(0.05, lambda: bus.publisher().publish("t", "A", b"late"))
    timer.start()
    try:
        batch = reader.read(10, 5.0)
    finally:
        timer.join()
    assert [m.value for m in batch] == [b"late"]
    assert batch[0].received_ns > 0


def test_a_reader_takes_turns_between_partitions() -> None:
    bus = InProcessBus()
    bus.create_topics(["t"], 2)
    publisher = bus.publisher()
    keys = {partition_for(k, 2): k for k in ("A", "B", "C", "D")}
    for _ in range(10):
        for key in keys.values():
            publisher.publish("t", key, b"x")
    reader = bus.reader("t")
    first, second = reader.read(5, 0.0), reader.read(5, 0.0)
    assert {m.partition for m in first} != {m.partition for m in second}
