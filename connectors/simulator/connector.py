"""The simulated feed's I/O loop: publish the desk's events at a steady rate."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from connectors.simulator.parse import to_event
from connectors.simulator.walk import SimulatedDesk
from infra.bus import EventPublisher


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


@dataclass(slots=True)
class FeedReport:
    """What a feed run published."""

    accounts: int = 0
    events: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return (
            f"feed: {self.events} events for {self.accounts} accounts in {self.seconds:.1f} s "
            f"({rate:,.0f}/s)"
        )


def run_feed(
    desk: SimulatedDesk,
    publisher: EventPublisher,
    *,
    rate: float,
    max_events: int | None = None,
    duration: float | None = None,
    stop: StopSignal | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FeedReport:
    """Publish the account events, then ticks at ``rate`` per second until ``max_events``
    ticks, ``duration`` seconds or ``stop``; flush and report."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    report = FeedReport(accounts=len(desk.accounts()))
    records = desk.records()
    for record in itertools.islice(records, report.accounts):
        publisher.publish_event(to_event(record))
    started = clock()
    ticks = 0
    while True:
        elapsed = clock() - started
        if (
            (max_events is not None and ticks >= max_events)
            or (duration is not None and elapsed >= duration)
            or (stop is not None and stop.is_set())
        ):
            break
        due = int(elapsed * rate) + 1
        if max_events is not None:
            due = min(due, max_events)
        while ticks < due:
            publisher.publish_event(to_event(next(records)))
            ticks += 1
        publisher.poll()
        sleep(0.001)
    publisher.flush()
    report.events = report.accounts + ticks
    report.seconds = clock() - started
    return report
