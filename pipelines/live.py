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

import heapq
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
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
            except Exception as exc:
                if isinstance(exc, LiveError):
                    reason = str(exc)
                else:  # a bug, not an outage: logged with its traceback, retried the same way
                    log.exception("live output: publishing failed unexpectedly")
                    reason = f"unexpected {type(exc).__name__} (logged)"
                self._failed(batch, reason)
                with self._ready:
                    if self._stopping:
                        lost = len(self._events) + len(self._standings)
                        log.error("live output stopped with %d items unpublished: %s", lost, reason)
                        return
                    self._ready.wait(delay * self._rng.uniform(0.5, 1.0))
                delay = min(delay * 2, self._retry_max)
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


class StandingBudget:
    """At most ``per_second`` standings a second for a whole process, shared by its shards
    and workers: a token bucket holding a tenth of a second's worth (``None``: no bound).

    The per-account interval bounds each account; this bounds their sum, so that many
    accounts changing at once cannot make the pipeline spend its time on standings
    (building and publishing one costs several times applying an event). A standing
    that must go (after a breach or a status change) always goes, and is counted.
    """

    def __init__(self, per_second: float | None) -> None:
        if per_second is not None and per_second <= 0:
            raise ValueError(f"the standing budget must be positive, got {per_second}")
        self.per_second = per_second
        self._capacity = 1.0 if per_second is None else max(1.0, per_second / 10.0)
        self._tokens = self._capacity
        self._last: float | None = None
        self._lock = threading.Lock()

    def take(self, now: float, *, force: bool = False) -> bool:
        """Spend one standing at ``now`` (monotonic seconds) if the budget allows it."""
        rate = self.per_second
        if rate is None:
            return True
        with self._lock:
            if self._last is not None:
                self._tokens = min(self._capacity, self._tokens + (now - self._last) * rate)
            self._last = now
            if self._tokens >= 1.0 - 1e-9 or force:  # (clock sums round: 0.1 s is 0.0999…)
                self._tokens = max(self._tokens - 1.0, -self._capacity)
                return True
            return False

    def wait(self) -> float:
        """Seconds until the next standing fits in the budget."""
        rate = self.per_second
        if rate is None:
            return 0.0
        with self._lock:
            return max(0.0, (1.0 - self._tokens) / rate)


class StandingSchedule:
    """Which accounts' standings go out when, for one state shard.

    An account changed by a batch goes at once if its interval has passed and the budget
    allows; otherwise it is held, and goes when both allow (its latest state then).
    An account with a breach or a status change goes at once. At the end of the input
    every held account goes.
    """

    def __init__(
        self,
        interval: float,
        budget: StandingBudget,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0:
            raise ValueError(f"the standing interval cannot be negative: {interval}")
        self.interval = interval
        self.budget = budget
        self.clock = clock
        self._next: dict[str, float] = {}  # when each account's next standing may go
        self._held: set[str] = set()
        self._wakeups: list[tuple[float, str]] = []  # (when, account), a heap
        self._not_before = 0.0  # the budget ran out: nothing goes before this

    def _hold(self, account_id: str, when: float) -> None:
        if account_id not in self._held:
            self._held.add(account_id)
            heapq.heappush(self._wakeups, (when, account_id))

    def _sent(self, account_id: str, now: float) -> None:
        self._next[account_id] = now + self.interval
        self._held.discard(account_id)

    def changed(self, accounts: Iterable[str], eventful: set[str]) -> list[str]:
        """The accounts of a batch whose standings go now (the others are held)."""
        now = self.clock()
        out: list[str] = []
        for account_id in accounts:
            if account_id in eventful:
                self.budget.take(now, force=True)
            elif now < self._next.get(account_id, 0.0):
                self._hold(account_id, self._next[account_id])
                continue
            elif not self.budget.take(now):
                self._not_before = now + self.budget.wait()
                self._hold(account_id, self._not_before)
                continue
            self._sent(account_id, now)
            out.append(account_id)
        return out

    def next_wakeup(self) -> float | None:
        """When (clock seconds) a held standing may go next; None when none is held."""
        return max(self._wakeups[0][0], self._not_before) if self._wakeups else None

    def due(self) -> list[str]:
        """At a wake-up: the held accounts whose standings go now."""
        now = self.clock()
        out: list[str] = []
        wakeups = self._wakeups
        if now < self._not_before:
            return out
        while wakeups and wakeups[0][0] <= now:
            account_id = wakeups[0][1]
            if account_id not in self._held:
                heapq.heappop(wakeups)  # sent meanwhile
                continue
            ready = self._next.get(account_id, 0.0)
            if ready > now:
                heapq.heapreplace(wakeups, (ready, account_id))
                continue
            if not self.budget.take(now):
                self._not_before = now + self.budget.wait()
                break
            heapq.heappop(wakeups)
            self._sent(account_id, now)
            out.append(account_id)
        return out

    def rest(self) -> list[str]:
        """At the end of the input: every held account, in name order."""
        now = self.clock()
        out = sorted(self._held)
        for account_id in out:
            self._sent(account_id, now)
        self._wakeups.clear()
        return out

    @property
    def held(self) -> int:
        return len(self._held)
