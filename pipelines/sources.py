"""Bytewax input from the bus: one Bytewax partition per topic partition, offsets in snapshots.

The partitions a worker owns share one reader (one Kafka consumer): one fetch request
covers all of them, instead of one consumer, connection and fetch loop per partition.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from infra.bus import BEGINNING, Bus, BusMessage, Reader

log = logging.getLogger(__name__)


BACKLOG_SCALE = 4
"""How many times the base round a worker reads at most while it catches up."""
CATCH_UP_LAG_MS = 1000
"""A full read whose last message was published longer ago than this is catching up
(by the message's producer timestamp: a skewed producer clock only changes read sizes)."""


class StopSignal(Protocol):
    """Anything with ``is_set()`` (a :class:`threading.Event`): set it to end a tailing run."""

    def is_set(self) -> bool: ...


class SharedFeed:
    """One reader for the partitions of one worker; messages wait per partition until
    that partition's ``next_batch`` takes them (in the same scheduling round)."""

    def __init__(self, bus: Bus, topic: str) -> None:
        self._bus = bus
        self._topic = topic
        self._reader: Reader | None = None
        self._waiting: dict[int, list[BusMessage]] = {}
        self._scale = 1

    def add(self, partition: int, offset: int) -> None:
        if self._reader is None:
            self._reader = self._bus.reader(self._topic, {partition: offset})
        else:
            self._reader.assign(partition, offset)
        self._waiting[partition] = []

    def take(self, partition: int, max_messages: int) -> list[BusMessage]:
        """This partition's waiting messages; if it has none, first read its share of a
        round (Bytewax asks each partition once per round, so a round reads about
        ``max_messages`` in all, whatever the partition count).

        While the worker is catching up (reads come back full, of messages published
        more than :data:`CATCH_UP_LAG_MS` ago: a restart, a replay), each read doubles, up
        to :data:`BACKLOG_SCALE` times the round: larger rounds cost less per tick, so the
        backlog clears sooner. Live input, bursts included, is read in base-size rounds,
        where the first breaches of a burst go out soonest.
        """
        assert self._reader is not None
        if not self._waiting[partition]:
            share = max(1, max_messages * self._scale // len(self._waiting))
            read = self._reader.read(share, 0.0)
            catching_up = (
                len(read) >= share
                and (read[-1].timestamp_ms or 0) < time.time() * 1000 - CATCH_UP_LAG_MS
            )
            self._scale = min(self._scale * 2, BACKLOG_SCALE) if catching_up else 1
            for message in read:
                waiting = self._waiting.get(message.partition)
                if waiting is not None:  # else its partition ended this run: read it next run
                    waiting.append(message)
        batch = self._waiting[partition]
        self._waiting[partition] = []
        return batch

    def remove(self, partition: int) -> None:
        self._waiting.pop(partition, None)
        if not self._waiting and self._reader is not None:
            self._reader.close()
            self._reader = None


class BusSource(FixedPartitionedSource[BusMessage, int]):
    """Reads one topic of a :class:`~infra.bus.Bus`; each partition resumes at its snapshot.

    ``until_end``: stop each partition once it has read up to the end offset it had when
    the run started and then seen no message for ``end_grace_seconds`` (replays,
    benchmarks, tests; the grace covers brokers whose high watermark lags the log, as
    Tansu's does after a multi-record batch). Otherwise tail until ``stop`` is set.

    ``batch_size`` bounds what one round reads, across the worker's partitions (Bytewax
    asks each partition for a batch once per round, then runs the rest of the dataflow).
    Breaches go out at the end of the round that read their ticks, so when the broker
    delivers a burst, small rounds let the first breaches out sooner, and large ones
    spread Bytewax's per-round cost over more ticks (BENCHMARKS.md).
    """

    def __init__(
        self,
        bus: Bus,
        topic: str,
        *,
        until_end: bool = False,
        stop: StopSignal | None = None,
        batch_size: int = 256,
        end_grace_seconds: float = 0.5,
    ) -> None:
        self._bus = bus
        self._topic = topic
        self._until_end = until_end
        self._stop = stop if stop is not None else threading.Event()
        self._batch_size = batch_size
        self._end_grace = end_grace_seconds
        self._feeds = threading.local()  # Bytewax builds and runs partitions on their worker

    def list_parts(self) -> list[str]:
        return [str(partition) for partition in range(self._bus.partition_count(self._topic))]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> BusPartition:
        partition = int(for_part)
        end = self._bus.end_offsets(self._topic)[partition] if self._until_end else None
        feed: SharedFeed | None = getattr(self._feeds, "feed", None)
        if feed is None:
            feed = self._feeds.feed = SharedFeed(self._bus, self._topic)
        feed.add(partition, BEGINNING if resume_state is None else resume_state)
        log.info(
            "reading %s[%d] from %s",
            self._topic,
            partition,
            "the beginning" if resume_state is None else f"offset {resume_state}",
        )
        return BusPartition(
            feed,
            partition,
            next_offset=resume_state or 0,
            end=end,
            stop=self._stop,
            batch_size=self._batch_size,
            end_grace_seconds=self._end_grace,
        )


class BusPartition(StatefulSourcePartition[BusMessage, int]):
    """One topic partition; the snapshot is the offset of the next message to read."""

    def __init__(
        self,
        feed: SharedFeed,
        partition: int,
        *,
        next_offset: int,
        end: int | None,
        stop: StopSignal,
        batch_size: int,
        end_grace_seconds: float = 0.5,
    ) -> None:
        self._feed = feed
        self._partition = partition
        self._next_offset = next_offset
        self._end = end
        self._stop = stop
        self._batch_size = batch_size
        self._end_grace = end_grace_seconds
        self._last_message_at = time.monotonic()

    def next_batch(self) -> list[BusMessage]:
        if self._stop.is_set():
            raise StopIteration
        batch = self._feed.take(self._partition, self._batch_size)
        now = time.monotonic()
        if batch:
            self._next_offset = batch[-1].offset + 1
            self._last_message_at = now
        elif (
            self._end is not None
            and self._next_offset >= self._end
            and now - self._last_message_at >= self._end_grace
        ):
            raise StopIteration
        return batch

    def snapshot(self) -> int:
        return self._next_offset

    def close(self) -> None:
        self._feed.remove(self._partition)
