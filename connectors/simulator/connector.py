"""The simulated feed's I/O loop: publish the desk's events at a steady rate, and let the
desk's traders hear their accounts' status changes (the status topic) as they happen."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from connectors.simulator.parse import to_event
from connectors.simulator.walk import SimulatedDesk
from infra.bus import EventPublisher, Reader
from schemas import StatusEvent

log = logging.getLogger(__name__)


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


@dataclass(slots=True)
class FeedReport:
    """What a feed run published."""

    accounts: int = 0
    events: int = 0
    seconds: float = 0.0
    status_changes: int = 0

    def line(self) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return (
            f"feed: {self.events} events for {self.accounts} accounts in {self.seconds:.1f} s "
            f"({rate:,.0f}/s), {self.status_changes} status changes obeyed"
        )


def hear_statuses(desk: SimulatedDesk, statuses: Reader) -> int:
    """Hand the status changes published since the last call to the desk's traders."""
    heard = 0
    for message in statuses.read(1_000, 0.0):
        try:
            status = StatusEvent.model_validate_json(message.value or b"")
        except ValueError as exc:
            log.warning("feed: skipped a status message that is not a status event: %s", exc)
            continue
        if desk.apply_status(status.account_id, status.status, status.until):
            heard += 1
    return heard


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
    statuses: Reader | None = None,
) -> FeedReport:
    """Publish the account events, then ticks at ``rate`` per second until ``max_events``
    ticks, ``duration`` seconds, ``stop``, or every account failed or passed; flush and
    report. ``statuses``: a reader of the status topic, whose changes the traders obey."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    report = FeedReport(accounts=len(desk.accounts()))
    records = desk.records()
    for opening in itertools.islice(records, report.accounts):
        publisher.publish_event(to_event(opening))
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
        if statuses is not None:
            report.status_changes += hear_statuses(desk, statuses)
        ended = False
        while ticks < due:
            tick = next(records, None)
            if tick is None:
                ended = True  # every account has stopped trading
                break
            publisher.publish_event(to_event(tick))
            ticks += 1
        publisher.poll()
        if ended:
            break
        sleep(0.001)
    publisher.flush()
    report.events = report.accounts + ticks
    report.seconds = clock() - started
    return report
