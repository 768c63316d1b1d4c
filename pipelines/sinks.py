"""Bytewax outputs: the writer seam (breaches to Kafka and to the database).

A sink partition hands batches to a :class:`Writer`, which may write asynchronously.
At every epoch end Bytewax snapshots the sink before committing the epoch; the
snapshot is the writer's *unconfirmed* items (written, not yet acknowledged). A writer
resumed from that snapshot writes them again. So committing an epoch never waits for
the broker, and nothing is lost across a crash: an item is either acknowledged, or in
the committed snapshot, or produced again by the replayed epoch. Outputs are
at-least-once; deterministic breach ids make the duplicates harmless.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, Protocol, TypeVar

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from infra.bus import DeadLetter, DeliveryError, Headers, Publisher, murmur2
from infra.db.pool import Pool
from infra.db.sinks import PostgresSink
from infra.db.writer import DatabaseWriter
from schemas import BreachEvent, StatusEvent, event_json

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

RECEIVED_HEADER = "aetheris-tick-received-ns"
"""Breach header: when the pipeline read the tick that caused it (ns since the epoch)."""
EMITTED_HEADER = "aetheris-emitted-ns"
"""Breach header: when the pipeline handed the breach to its producer (ns since the epoch)."""


class Writer(Protocol[T]):
    """Where a sink partition writes (the seam for the breach topic and the database)."""

    def write(self, items: Sequence[T]) -> None:
        """Start writing ``items`` in order (may return before they are durable)."""
        ...

    def unconfirmed(self) -> tuple[T, ...]:
        """At each epoch end: the items written but not yet durable, to be written again
        after a crash. A synchronous writer commits here and returns ``()``."""
        ...

    def close(self) -> None:
        """Make everything written durable (the end of a finite run)."""
        ...


WriterFactory = Callable[[int], Writer[T]]
"""Builds the writer of one sink partition (its index is the argument)."""


class WriterSink(FixedPartitionedSink[T, tuple[T, ...]], Generic[T]):
    """A keyed Bytewax sink over :class:`Writer` s; one key's items go to one partition,
    in order, so one account's breaches stay in the order they were emitted."""

    def __init__(self, factory: WriterFactory[T], parts: int) -> None:
        if parts < 1:
            raise ValueError(f"a sink needs at least one partition, got {parts}")
        self._factory = factory
        self._parts = parts

    def list_parts(self) -> list[str]:
        return [str(index) for index in range(self._parts)]

    def part_fn(self, item_key: str) -> int:
        return murmur2(item_key.encode("utf-8")) & 0x7FFFFFFF

    def build_part(
        self, step_id: str, for_part: str, resume_state: tuple[T, ...] | None
    ) -> WriterPartition[T]:
        writer = self._factory(int(for_part))
        if resume_state:
            writer.write(resume_state)  # unconfirmed when the last epoch was committed
        return WriterPartition(writer)


class WriterPartition(StatefulSinkPartition[T, tuple[T, ...]], Generic[T]):
    """Writes each batch; its snapshot is what the writer has not confirmed yet."""

    def __init__(self, writer: Writer[T]) -> None:
        self._writer = writer

    def write_batch(self, values: list[T]) -> None:
        self._writer.write(values)

    def snapshot(self) -> tuple[T, ...]:
        return self._writer.unconfirmed()

    def close(self) -> None:
        self._writer.close()


@dataclass(frozen=True, slots=True)
class EmittedBreach:
    """A breach on its way out, with when the pipeline read the tick that caused it."""

    breach: BreachEvent
    tick_received_ns: int = field(default=0, compare=False)


Encoded = tuple[str, bytes, Headers]
"""A message to publish: key, value, headers."""


class TopicWriter(Generic[T]):
    """Publishes items to one topic and keeps those the broker has not acknowledged.

    The publisher may be shared by several writers (one producer per process), so
    ``close`` only flushes; whoever made the publisher closes it. A delivery the
    producer gave up on stops the dataflow (an error from ``write``); the restart
    resumes from the last snapshot, whose unconfirmed items include it.
    """

    def __init__(self, publisher: Publisher, topic: str, encode: Callable[[T], Encoded]) -> None:
        self._publisher = publisher
        self._topic = topic
        self._encode = encode
        self._pending: dict[int, T] = {}
        self._sequence = 0
        self._failures: list[str] = []
        self._lock = threading.Lock()  # delivery reports may run on another worker's thread

    def _delivered(self, sequence: int, error: str | None) -> None:
        with self._lock:
            if error is None:
                self._pending.pop(sequence, None)
            else:
                self._failures.append(error)

    def _check(self) -> None:
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise DeliveryError(f"{self._topic}: {len(failures)} not delivered: {failures[0]}")

    def write(self, items: Sequence[T]) -> None:
        for item in items:
            key, value, headers = self._encode(item)
            self._sequence += 1
            with self._lock:
                self._pending[self._sequence] = item
            self._publisher.publish(
                self._topic, key, value, headers, partial(self._delivered, self._sequence)
            )
        self._publisher.poll()
        self._check()

    def unconfirmed(self) -> tuple[T, ...]:
        self._publisher.poll()
        self._check()
        with self._lock:
            return tuple(self._pending.values())

    def close(self) -> None:
        self._publisher.flush()
        self._check()


def encode_breach(item: EmittedBreach) -> Encoded:
    """A breach as contract JSON keyed by account, with when the pipeline read its tick
    and when it handed the breach over (latency accounting; not part of the event)."""
    breach = item.breach
    headers = (
        (RECEIVED_HEADER, str(item.tick_received_ns).encode()),
        (EMITTED_HEADER, str(time.time_ns()).encode()),
    )
    return breach.account_id, event_json(breach).encode("utf-8"), headers


def encode_dead_letter(letter: DeadLetter) -> Encoded:
    """A dead letter keyed like the message it rejects."""
    key = letter.key if letter.key is not None else f"partition-{letter.partition}"
    return key, letter.model_dump_json().encode("utf-8"), ()


def encode_status(status: StatusEvent) -> Encoded:
    """A status change as contract JSON keyed by account."""
    return status.account_id, event_json(status).encode("utf-8"), ()


def status_topic_writer(publisher: Publisher, topic: str) -> TopicWriter[StatusEvent]:
    return TopicWriter(publisher, topic, encode_status)


def breach_topic_writer(publisher: Publisher, topic: str) -> TopicWriter[EmittedBreach]:
    return TopicWriter(publisher, topic, encode_breach)


def dead_letter_topic_writer(publisher: Publisher, topic: str) -> TopicWriter[DeadLetter]:
    return TopicWriter(publisher, topic, encode_dead_letter)


class BufferedStore(Protocol[T_contra]):
    """A store that buffers writes and makes them durable on ``flush`` (the database)."""

    def write(self, items: Sequence[T_contra]) -> None: ...

    def flush(self) -> None: ...


class CommitAtEpoch(Generic[T]):
    """A buffered store as a :class:`Writer`: it commits at each epoch end, before the
    snapshot, so nothing the snapshot counts as done is still only in memory."""

    def __init__(self, store: BufferedStore[T]) -> None:
        self._store = store

    def write(self, items: Sequence[T]) -> None:
        self._store.write(items)

    def unconfirmed(self) -> tuple[T, ...]:
        self._store.flush()
        return ()

    def close(self) -> None:
        self._store.flush()


def database_breach_store(pool: Pool) -> WriterFactory[BreachEvent]:
    """Breaches to PostgreSQL/TimescaleDB, one transaction per epoch and sink partition;
    the unique ``breach_id`` stores a breach re-sent after a restart once."""

    def build(_part: int) -> CommitAtEpoch[BreachEvent]:
        return CommitAtEpoch(DatabaseWriter(PostgresSink(pool)))

    return build
