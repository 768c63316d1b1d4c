"""The live output: standings, breaches and status changes to Redis (or its twin).

Each worker writes the accounts it holds (a Bytewax ``DynamicSink``: no exchange between
workers, so a cluster's processes each write their own accounts). The sink hands items
to a :class:`LiveWriter`, whose own thread publishes them: the dataflow never waits on
Redis. While Redis is down the writer logs, counts and retries with backoff; it keeps
the latest standing of each account (a newer one supersedes an older one) and up to
``max_events`` breaches and status changes (the oldest dropped first, counted). The
live output is not part of recovery snapshots: the topics and the database are the
record, Redis only the latest view, which the next standing repairs.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from infra.live import LiveError, LiveEvent, LiveItem, LivePublisher, LiveStanding, is_standing

log = logging.getLogger(__name__)

MAX_EVENTS = 100_000
"""Breaches and status changes a writer keeps while Redis is unreachable."""


@dataclass(slots=True)
class LiveStats:
    """What a writer published, retried and gave up on."""

    standings: int = 0
    events: int = 0
    batches: int = 0
    failures: int = 0
    dropped_events: int = 0
    last_error: str | None = None


class LiveWriter:
    """Publishes live items on a thread of its own, coalescing standings per account."""

    def __init__(
        self,
        publisher: LivePublisher,
        *,
        max_events: int = MAX_EVENTS,
        retry_initial_seconds: float = 0.1,
        retry_max_seconds: float = 5.0,
        name: str = "aetheris-live",
    ) -> None:
        if max_events < 1:
            raise ValueError("keep at least one event while the live store is down")
        self._publisher = publisher
        self._events: deque[LiveEvent] = deque()
        self._max_events = max_events
        self._standings: dict[str, LiveStanding] = {}
        self._ready = threading.Condition()
        self._stopping = False
        self._retry_initial = retry_initial_seconds
        self._retry_max = retry_max_seconds
        self._rng = random.Random()  # noqa: S311 - retry jitter, not a secret
        self.stats = LiveStats()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def write(self, items: Sequence[LiveItem]) -> None:
        """Queue ``items`` (never blocks on the store)."""
        with self._ready:
            for item in items:
                if is_standing(item):
                    self._standings.pop(item.account_id, None)
                    self._standings[item.account_id] = item
                else:
                    self._events.append(item)
            self._trim()
            self._ready.notify()

    def _trim(self) -> None:
        excess = len(self._events) - self._max_events
        if excess > 0:
            for _ in range(excess):
                self._events.popleft()
            self.stats.dropped_events += excess

    def pending(self) -> int:
        """Items waiting to be published."""
        with self._ready:
            return len(self._events) + len(self._standings)

    def _take(self) -> list[LiveItem] | None:
        with self._ready:
            while not self._events and not self._standings and not self._stopping:
                self._ready.wait()
            if not self._events and not self._standings:
                return None  # stopping, nothing left
            # Events first: each standing is emitted after the events it reflects.
            batch: list[LiveItem] = [*self._events, *self._standings.values()]
            self._events.clear()
            self._standings = {}
            return batch

    def _give_back(self, batch: list[LiveItem]) -> None:
        """Requeue a batch that failed, behind nothing newer: a newer standing wins."""
        with self._ready:
            events = [item for item in batch if not is_standing(item)]
            self._events.extendleft(reversed(events))
            for item in batch:
                if is_standing(item):
                    self._standings.setdefault(item.account_id, item)
            self._trim()

    def _run(self) -> None:
        delay = self._retry_initial
        while (batch := self._take()) is not None:
            try:
                self._publisher.publish(batch)
            except LiveError as exc:
                self._failed(batch, str(exc))
                with self._ready:
                    if self._stopping:
                        lost = len(self._events) + len(self._standings)
                        log.error("live output stopped with %d items unpublished: %s", lost, exc)
                        return
                    self._ready.wait(delay * self._rng.uniform(0.5, 1.0))
                delay = min(delay * 2, self._retry_max)
                continue
            except Exception:
                log.exception("live output: publishing failed unexpectedly; retrying")
                self._failed(batch, "unexpected error (logged)")
                continue
            if self.stats.failures and delay > self._retry_initial:
                log.info("live output: publishing again after %d failures", self.stats.failures)
            delay = self._retry_initial
            self.stats.batches += 1
            standings = sum(1 for item in batch if is_standing(item))
            self.stats.standings += standings
            self.stats.events += len(batch) - standings

    def _failed(self, batch: list[LiveItem], reason: str) -> None:
        self.stats.failures += 1
        first = self.stats.last_error is None or self.stats.failures % 100 == 1
        if first or reason != self.stats.last_error:
            log.warning(
                "live output: %s (%d failures so far; %d items kept, retrying)",
                reason,
                self.stats.failures,
                len(batch),
            )
        self.stats.last_error = reason
        self._give_back(batch)

    def close(self, timeout: float = 10.0) -> None:
        """Publish what is queued (one last try when the store is down), then stop."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        self._thread.join(timeout)
        self._publisher.close()


LiveFactory = Callable[[], LivePublisher]
"""Builds the publisher of one worker (Redis: a client each; the twin: the same one)."""


class LivePartition(StatelessSinkPartition[LiveItem]):
    def __init__(self, writer: LiveWriter) -> None:
        self.writer = writer

    def write_batch(self, items: list[LiveItem]) -> None:
        self.writer.write(items)

    def close(self) -> None:
        self.writer.close()


class LiveSink(DynamicSink[LiveItem]):
    """Every worker publishes the live items of the accounts it holds."""

    def __init__(self, factory: LiveFactory) -> None:
        self._factory = factory

    def build(self, step_id: str, worker_index: int, worker_count: int) -> LivePartition:
        return LivePartition(LiveWriter(self._factory(), name=f"aetheris-live-{worker_index}"))
