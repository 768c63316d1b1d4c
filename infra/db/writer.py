"""A pipeline writer over :class:`PostgresSink`: buffer items, store them on ``flush``.

It fits the pipelines' ``Writer`` protocol (``write`` / ``flush`` / ``close``): the
dataflow hands it batches, and ``flush`` -- called before each recovery snapshot --
stores everything buffered in one transaction. If that fails after every retry, the
buffer and its batch id are kept, so the next ``flush`` stores it exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID, uuid4

from infra.db.sinks import DeadLetter, Event, WriteReport
from schemas.events import AccountEvent, BalanceEvent, BreachEvent, TradeEvent


class BatchSink(Protocol):
    """What the writer stores through (:class:`infra.db.sinks.PostgresSink`)."""

    def write(
        self,
        events: Sequence[Event],
        *,
        dead_letters: Sequence[DeadLetter] = (),
        batch_id: UUID | None = None,
    ) -> WriteReport: ...


class BusDeadLetter(Protocol):
    """A rejected bus message as the bus reports it (infra.bus.DeadLetter)."""

    @property
    def source_topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> str | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def raw(self) -> str: ...


_EVENT_TYPES = (AccountEvent, BalanceEvent, TradeEvent, BreachEvent)


def from_bus(letter: BusDeadLetter) -> DeadLetter:
    """A bus dead letter as a dead-letter row (source = topic[partition]@offset)."""
    return DeadLetter(
        source=f"{letter.source_topic}[{letter.partition}]@{letter.offset}",
        raw_payload=letter.raw,
        reason=letter.reason,
        account_id=letter.key,
    )


class DatabaseWriter:
    """Buffers events and dead letters; ``flush`` stores them in one transaction."""

    def __init__(self, sink: BatchSink, *, max_buffered: int = 50_000) -> None:
        self._sink = sink
        self._max_buffered = max_buffered
        self._events: list[Event] = []
        self._letters: list[DeadLetter] = []
        self._batch_id: UUID = uuid4()
        self.last_report: WriteReport | None = None

    def write(self, items: Sequence[Event | DeadLetter | BusDeadLetter]) -> None:
        for item in items:
            if isinstance(item, _EVENT_TYPES):
                self._events.append(item)
            elif isinstance(item, DeadLetter):
                self._letters.append(item)
            else:
                self._letters.append(from_bus(item))
        if len(self._events) + len(self._letters) >= self._max_buffered:
            self.flush()

    def flush(self) -> None:
        if not self._events and not self._letters:
            return
        self.last_report = self._sink.write(
            self._events, dead_letters=self._letters, batch_id=self._batch_id
        )
        self._events = []
        self._letters = []
        self._batch_id = uuid4()

    def close(self) -> None:
        """Nothing to release: the pool belongs to whoever built the sink."""

    @property
    def buffered(self) -> int:
        return len(self._events) + len(self._letters)
