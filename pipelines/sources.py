"""Bytewax input from the bus: one Bytewax partition per topic partition, offsets in snapshots.

The partitions a worker owns share one reader (one Kafka consumer): one fetch request
covers all of them, instead of one consumer, connection and fetch loop per partition.
"""

from __future__ import annotations

import logging
import threading
import time
from itertools import groupby
from operator import itemgetter
from typing import Protocol

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from infra.bus import BEGINNING, Bus, BusMessage, Reader
from pipelines.metrics import note_read

log = logging.getLogger(__name__)


ROUND_SIZE = 16
"""The least one Bytewax round hands out across a worker's partitions, when that many
are waiting (:class:`SharedFeed`; ``AETHERIS_PIPELINE_ROUND_SIZE``)."""
BUFFER_LIMIT = 16_384
"""How many messages a worker takes off its reader at most ahead of the rounds that use
them. They are stamped as received when taken: the wait for a round is the pipeline's.
It caps a backlog's rounds (half of what waits): 4,096 paid Bytewax's per-round overhead
about twice as often in a replay (BENCHMARKS.md, issue 16); at live rates far fewer wait."""

_PARTITION = itemgetter(1)  # BusMessage.partition, without a Python call per message


class StopSignal(Protocol):
    """Anything with ``is_set()`` (a :class:`threading.Event`): set it to end a tailing run."""

    def is_set(self) -> bool: ...


class SharedFeed:
    """One reader for the partitions of one worker, and what it has read: messages wait
    per partition until that partition's ``next_batch`` takes them.

    Each round (Bytewax asks each partition once, then runs the rest of the dataflow) a
    partition hands out half of what it has waiting, and at least its share of
    ``round_size`` (``round_size / partitions``). Breaches go out at the end of the round
    that read their ticks, and the broker delivers ticks in bursts (Tansu answers a
    fetch with everything that arrived while it waited), so a burst of B ticks takes
    about log2(B / share) rounds: its first breaches go out after half the burst's work,
    its last after the whole burst and a few rounds' overhead. Fixed small rounds pay
    that overhead B / share times; fixed large ones make every tick wait for the whole
    burst (both measured slower, BENCHMARKS.md). A backlog (a restart, a replay) is read
    the same way, in large rounds, which cost least per tick.

    Once a round, and whenever a partition has less than its share waiting, the feed
    takes what the reader has, up to :data:`BUFFER_LIMIT` messages waiting in all, and
    stamps it ``received_ns``: the time a message then waits for its round counts as
    time in the pipeline (latency accounting), not as time in the broker.
    """

    def __init__(self, bus: Bus, topic: str, round_size: int) -> None:
        if round_size < 1:
            raise ValueError(f"a round hands out at least one message, got {round_size}")
        self._bus = bus
        self._topic = topic
        self._round = round_size
        self._reader: Reader | None = None
        self._waiting: dict[int, list[BusMessage]] = {}
        self._first = 0  # the partition whose turn starts a round
        self._share = round_size

    def add(self, partition: int, offset: int) -> None:
        if self._reader is None:
            # The dataflow uses neither the messages' timestamps nor their headers.
            self._reader = self._bus.reader(self._topic, {partition: offset}, metadata=False)
        else:
            self._reader.assign(partition, offset)
        self._waiting[partition] = []
        self._settle()

    def _settle(self) -> None:
        if self._waiting:
            self._first = min(self._waiting)
            self._share = max(1, self._round // len(self._waiting))

    def _top_up(self) -> None:
        assert self._reader is not None
        wanted = BUFFER_LIMIT - self.buffered
        if wanted <= 0:
            return
        queues = self._waiting
        # A read comes in runs of one partition (one per fetched record batch): move whole
        # runs, not single messages.
        for partition, run in groupby(self._reader.read(wanted, 0.0), _PARTITION):
            waiting = queues.get(partition)
            if waiting is not None:  # else its partition ended this run: read it next run
                waiting.extend(run)

    @property
    def buffered(self) -> int:
        """Messages taken off the reader and not handed out yet, over all partitions."""
        return sum(len(waiting) for waiting in self._waiting.values())

    def take(self, partition: int) -> list[BusMessage]:
        """This partition's part of a round, oldest first."""
        waiting = self._waiting[partition]
        if partition == self._first or len(waiting) < self._share:
            self._top_up()
        count = min(max(self._share, len(waiting) // 2), len(waiting))
        taken = waiting[:count]
        del waiting[:count]
        return taken

    def remove(self, partition: int) -> None:
        self._waiting.pop(partition, None)
        self._settle()
        if not self._waiting and self._reader is not None:
            self._reader.close()
            self._reader = None


class BusSource(FixedPartitionedSource[BusMessage, int]):
    """Reads one topic of a :class:`~infra.bus.Bus`; each partition resumes at its snapshot.

    ``until_end``: stop each partition once it has read up to the end offset it had when
    the run started and then seen no message for ``end_grace_seconds`` (replays,
    benchmarks, tests; the grace covers brokers whose high watermark lags the log, as
    Tansu's does after a multi-record batch). Otherwise tail until ``stop`` is set.

    ``round_size``: the least a round hands out across the worker's partitions when that
    many are waiting; a round hands out half of what waits (:class:`SharedFeed`).
    """

    def __init__(
        self,
        bus: Bus,
        topic: str,
        *,
        until_end: bool = False,
        stop: StopSignal | None = None,
        round_size: int = ROUND_SIZE,
        end_grace_seconds: float = 0.5,
    ) -> None:
        self._bus = bus
        self._topic = topic
        self._until_end = until_end
        self._stop = stop if stop is not None else threading.Event()
        self._round_size = round_size
        self._end_grace = end_grace_seconds
        self._feeds = threading.local()  # Bytewax builds and runs partitions on their worker

    def list_parts(self) -> list[str]:
        return [str(partition) for partition in range(self._bus.partition_count(self._topic))]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> BusPartition:
        partition = int(for_part)
        end = self._bus.end_offsets(self._topic)[partition] if self._until_end else None
        feed: SharedFeed | None = getattr(self._feeds, "feed", None)
        if feed is None:
            feed = self._feeds.feed = SharedFeed(self._bus, self._topic, self._round_size)
            log.info("reading %s in rounds of at least %d messages", self._topic, self._round_size)
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
            topic=self._topic,
            next_offset=resume_state or 0,
            end=end,
            stop=self._stop,
            end_grace_seconds=self._end_grace,
        )


class BusPartition(StatefulSourcePartition[BusMessage, int]):
    """One topic partition; the snapshot is the offset of the next message to read."""

    def __init__(
        self,
        feed: SharedFeed,
        partition: int,
        *,
        topic: str = "",
        next_offset: int,
        end: int | None,
        stop: StopSignal,
        end_grace_seconds: float = 0.5,
    ) -> None:
        self._feed = feed
        self._partition = partition
        self._topic = topic
        self._next_offset = next_offset
        self._end = end
        self._stop = stop
        self._end_grace = end_grace_seconds
        self._last_message_at = time.monotonic()

    def next_batch(self) -> list[BusMessage]:
        if self._stop.is_set():
            raise StopIteration
        batch = self._feed.take(self._partition)
        now = time.monotonic()
        if batch:
            self._next_offset = batch[-1].offset + 1
            self._last_message_at = now
            note_read(self._topic, self._partition, len(batch), self._next_offset)
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
