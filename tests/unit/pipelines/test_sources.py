"""The bus source: partitions of one worker share one reader; each resumes at its offset,
stops at the end when asked to, and stops when the stop signal is set."""

from __future__ import annotations

import threading
import time

import pytest

from infra.bus import InProcessBus, partition_for
from infra.settings import Settings
from pipelines import sources
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


def test_live_input_is_read_in_rounds_of_the_round_size() -> None:
    keys = two_keys_in_two_partitions()
    sizes, seen, _part = read_rounds(BusSource(bus_with(40, keys), "t", round_size=4), 30, keys)
    assert max(sizes) <= 4
    for key in keys:
        assert seen[key] == [f"{key}-{n}".encode() for n in range(40)]


def test_catching_up_reads_larger_rounds_until_it_has_caught_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources, "CATCH_UP_LAG_MS", -60_000)  # everything counts as old
    keys = two_keys_in_two_partitions()
    bus = bus_with(40, keys)
    source = BusSource(bus, "t", round_size=4)
    sizes, seen, first = read_rounds(source, 30, keys)
    for key in keys:
        assert seen[key] == [f"{key}-{n}".encode() for n in range(40)]
    assert 4 < max(sizes) <= 4 * sources.BACKLOG_SCALE  # larger while behind, bounded
    # Caught up: the next read is not full, and the one after is base-size again.
    bus.publisher().publish("t", keys[0], b"after")
    assert [m.value for m in first.next_batch()] == [b"after"]
    assert first._feed._scale == 1


def test_messages_waiting_for_a_later_round_keep_the_time_they_were_taken_off_the_reader() -> None:
    keys = two_keys_in_two_partitions()
    source = BusSource(bus_with(10, keys), "t", round_size=4)
    first = source.build_part("in", "0", None)
    second = source.build_part("in", "1", None)
    rounds = [first.next_batch() + second.next_batch() for _round in range(5)]
    assert [len(got) for got in rounds] == [4, 4, 4, 4, 4]  # 2 per partition and round
    stamps = {message.received_ns for got in rounds for message in got}
    # One read took all 20 (8 rounds may wait): the wait for a round is pipeline time.
    assert len(stamps) == 1
    assert 0 < stamps.pop() <= time.time_ns()
    assert first.next_batch() + second.next_batch() == []


def test_what_waits_is_bounded_by_the_buffered_rounds() -> None:
    keys = two_keys_in_two_partitions()
    source = BusSource(bus_with(100, keys), "t", round_size=4)
    first = source.build_part("in", "0", None)
    second = source.build_part("in", "1", None)
    seen: list[bytes | None] = []
    for _round in range(200):
        for part in (first, second):
            got = part.next_batch()
            assert len(got) <= 2  # its share of the round
            seen += [m.value for m in got]
            assert 0 <= part._feed._buffered <= 4 * sources.BUFFER_ROUNDS
    assert sorted(seen, key=str) == sorted(
        (f"{key}-{n}".encode() for key in keys for n in range(100)), key=str
    )


def test_the_default_round_size_is_the_settings_default() -> None:
    assert Settings().pipeline_round_size == sources.ROUND_SIZE
