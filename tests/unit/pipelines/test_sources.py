"""The bus source: partitions of one worker share one reader; each resumes at its offset,
stops at the end when asked to, and stops when the stop signal is set."""

from __future__ import annotations

import threading
import time

import pytest

from infra.bus import Bus, InProcessBus, Topics, partition_for
from infra.settings import Settings
from pipelines import sources
from pipelines.inprocess import InProcessPipeline
from pipelines.sources import BusPartition, BusSource


def bus_with(messages_per_key: int, keys: list[str], partitions: int = 2) -> InProcessBus:
    bus = InProcessBus()
    bus.create_topics(["t"], partitions)
    publisher = bus.publisher()
    for number in range(messages_per_key):
        for key in keys:
            publisher.publish("t", key, f"{key}-{number}".encode())
    return bus


def two_keys_in_two_partitions() -> list[str]:
    by_partition = {partition_for(key, 2): key for key in ("A", "B", "C", "D", "E")}
    return [by_partition[0], by_partition[1]]


def test_partitions_share_one_reader_and_keep_their_own_messages() -> None:
    keys = two_keys_in_two_partitions()
    source = BusSource(bus_with(5, keys), "t")
    first = source.build_part("in", "0", None)
    second = source.build_part("in", "1", None)
    # One read fetches both partitions; each partition hands out only its own messages.
    got_first = first.next_batch()
    got_second = second.next_batch()
    assert [m.value for m in got_first] == [f"{keys[0]}-{n}".encode() for n in range(5)]
    assert [m.value for m in got_second] == [f"{keys[1]}-{n}".encode() for n in range(5)]
    assert (first.snapshot(), second.snapshot()) == (5, 5)


def test_a_partition_resumes_after_its_snapshot() -> None:
    keys = two_keys_in_two_partitions()
    source = BusSource(bus_with(5, keys), "t")
    resumed = source.build_part("in", "0", 3)
    assert [m.offset for m in resumed.next_batch()] == [3, 4]


def test_until_end_stops_at_the_end_offset_of_the_start() -> None:
    keys = two_keys_in_two_partitions()
    bus = bus_with(3, keys)
    source = BusSource(bus, "t", until_end=True, end_grace_seconds=0.0)
    part = source.build_part("in", "0", None)
    assert len(part.next_batch()) == 3
    bus.publisher().publish("t", keys[0], b"after the start")
    assert len(part.next_batch()) == 1  # still read while it arrives
    with pytest.raises(StopIteration):
        part.next_batch()


def test_a_tailing_source_stops_when_told() -> None:
    stop = threading.Event()
    source = BusSource(bus_with(1, two_keys_in_two_partitions()), "t", stop=stop)
    part = source.build_part("in", "1", None)
    assert len(part.next_batch()) == 1
    assert part.next_batch() == []  # tailing: nothing yet, no end
    stop.set()
    with pytest.raises(StopIteration):
        part.next_batch()


def read_rounds(
    source: BusSource, rounds: int, keys: list[str]
) -> tuple[list[int], dict[str, list[bytes | None]], BusPartition]:
    first = source.build_part("in", "0", None)
    second = source.build_part("in", "1", None)
    seen: dict[str, list[bytes | None]] = {keys[0]: [], keys[1]: []}
    sizes: list[int] = []
    for _round in range(rounds):
        got = first.next_batch() + second.next_batch()  # one Bytewax round
        sizes.append(len(got))
        for message in got:
            seen[message.key.decode()].append(message.value)  # type: ignore[union-attr]
    return sizes, seen, first


def test_a_round_hands_out_half_of_what_waits_and_at_least_a_share() -> None:
    keys = two_keys_in_two_partitions()
    sizes, seen, _part = read_rounds(BusSource(bus_with(40, keys), "t", round_size=4), 30, keys)
    # 40 per partition: 20, 10, 5, then shares of 2 (round_size 4 over two partitions).
    assert sizes[:6] == [40, 20, 10, 4, 4, 2]
    assert sum(sizes) == 80
    for key in keys:
        assert seen[key] == [f"{key}-{n}".encode() for n in range(40)]


def test_a_partition_with_less_than_its_share_hands_out_all_it_has() -> None:
    keys = two_keys_in_two_partitions()
    sizes, _seen, _part = read_rounds(BusSource(bus_with(1, keys), "t", round_size=16), 3, keys)
    assert sizes == [2, 0, 0]


def test_messages_waiting_for_a_later_round_keep_the_time_they_were_taken_off_the_reader() -> None:
    keys = two_keys_in_two_partitions()
    source = BusSource(bus_with(10, keys), "t", round_size=4)
    first = source.build_part("in", "0", None)
    second = source.build_part("in", "1", None)
    rounds = [first.next_batch() + second.next_batch() for _round in range(4)]
    assert [len(got) for got in rounds] == [10, 4, 4, 2]
    stamps = {message.received_ns for got in rounds for message in got}
    # One read took all 20: the wait for a later round is pipeline time.
    assert len(stamps) == 1
    assert 0 < stamps.pop() <= time.time_ns()
    assert first.next_batch() + second.next_batch() == []


def test_what_waits_is_bounded_and_every_partition_gets_its_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources, "BUFFER_LIMIT", 16)
    keys = two_keys_in_two_partitions()
    source = BusSource(bus_with(100, keys), "t", round_size=4)
    first = source.build_part("in", "0", None)
    second = source.build_part("in", "1", None)
    seen: list[bytes | None] = []
    for _round in range(200):
        for part in (first, second):
            seen += [m.value for m in part.next_batch()]
            assert 0 <= part._feed.buffered <= 16
    assert sorted(seen, key=str) == sorted(
        (f"{key}-{n}".encode() for key in keys for n in range(100)), key=str
    )


def test_the_default_round_size_is_the_settings_default() -> None:
    assert Settings().pipeline_round_size == sources.ROUND_SIZE


def test_each_round_takes_what_has_arrived_even_while_partitions_have_enough_waiting() -> None:
    keys = two_keys_in_two_partitions()
    bus = bus_with(10, keys)
    source = BusSource(bus, "t", round_size=2)
    first = source.build_part("in", "0", None)
    second = source.build_part("in", "1", None)
    handed = first.next_batch() + second.next_batch()  # 5 each; 5 each still wait
    publisher = bus.publisher()
    for key in keys:
        publisher.publish("t", key, b"late")
    handed += first.next_batch() + second.next_batch()
    taken_by = time.time_ns()  # the late ones were taken off the reader in that round
    while got := first.next_batch() + second.next_batch():
        time.sleep(0.002)
        handed += got
    late = [m for m in handed if m.value == b"late"]
    assert len(late) == 2
    assert all(m.received_ns <= taken_by for m in late)
    assert len(handed) == 22


def test_the_round_size_given_to_the_pipeline_reaches_its_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []

    class RecordingFeed(sources.SharedFeed):
        def __init__(self, bus: Bus, topic: str, round_size: int) -> None:
            built.append(round_size)
            super().__init__(bus, topic, round_size)

    monkeypatch.setattr(sources, "SharedFeed", RecordingFeed)
    bus = InProcessBus()
    topics = Topics("events", "breaches", "deadletter", 2)
    bus.create_topics(topics.all(), topics.partitions)
    InProcessPipeline(bus, topics, round_size=5).run_until_end()
    assert built == [5]
