"""The production archive: what the pipeline reads goes to the database as well.

A sink beside the breach outputs, fed with every message read from the events topic and
with every breach, keyed by account (so one account's messages reach one sink partition
in offset order, and its breaches the same partition). At each epoch end it stores what
it has decided in one transaction (:class:`infra.db.archive.ArchiveStore`); the offsets
stored with the rows make a replay after a crash store nothing twice, and what it has
not decided yet is its snapshot, so nothing is lost either.

Balance ticks (``AETHERIS_ARCHIVE_TICK_INTERVAL_SECONDS``): ``0`` keeps every tick;
``N > 0`` keeps the last tick of each N-second interval of each account, plus every tick
that fired a breach (a breach's ``ts`` is its tick's). An account's latest tick is
decided when its next tick arrives (a tick in another interval closes the interval), so
it waits -- in the snapshot across epochs -- until then, or until a finite run ends.
Which ticks are kept depends only on the order of one account's ticks and on their
breaches (emitted in the tick's epoch), never on where epochs are cut: a replay keeps
the same ticks. (A breach names its tick by account and ``ts``: of several ticks of one
instant, those held in the breach's epoch are all kept.) Accounts, trades and ticks are
stored; invalid messages are left to the dataflow's dead-letter output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from infra.bus import BusMessage
from infra.db.archive import Archived, ArchiveReport, ArchiveStore, StatusChange
from infra.db.pool import Pool
from pipelines.sinks import WriterFactory
from schemas import BalanceEvent, BreachEvent, StatusEvent
from schemas.parsing import validate_event_json

ArchiveInput = BusMessage | BreachEvent | StatusEvent
"""What the archive sink receives: messages as read, the breaches they caused, and the
account status changes (stored at the epoch's end, idempotent by ``status_id``)."""


class ArchiveBackend(Protocol):
    """Where decided items go (:class:`infra.db.archive.ArchiveStore`)."""

    def write(
        self, items: Sequence[Archived], status_changes: Sequence[StatusChange] = ()
    ) -> ArchiveReport: ...


@dataclass(slots=True)
class _Pending:
    """An account's latest tick: kept or not once the next tick shows whether it is the
    last of its interval."""

    message: BusMessage
    item: Archived
    bucket: int
    written: bool = False  # already stored because it fired a breach


def source_of(message: BusMessage) -> str:
    return f"{message.topic}[{message.partition}]"


class ArchiveWriter:
    """One sink partition's archive (the :class:`pipelines.sinks.Writer` protocol)."""

    def __init__(self, store: ArchiveBackend, *, tick_interval_seconds: float = 0.0) -> None:
        if tick_interval_seconds < 0:
            raise ValueError(
                f"the tick interval is 0 (every tick) or more, got {tick_interval_seconds}"
            )
        self._store = store
        self._interval = tick_interval_seconds
        self._decided: list[Archived] = []
        # Ticks superseded in their interval this epoch: dropped at the epoch's end
        # unless one of this epoch's breaches was fired by them.
        self._superseded: list[Archived] = []
        self._pending: dict[str, _Pending] = {}
        self._fired: set[tuple[str, datetime]] = set()
        self._statuses: list[StatusChange] = []
        self.last_report: ArchiveReport | None = None

    def write(self, items: Sequence[ArchiveInput]) -> None:
        for item in items:
            if isinstance(item, BreachEvent):
                self._fired.add((item.account_id, item.ts))
                continue
            if isinstance(item, StatusEvent):
                self._statuses.append(status_change(item))
                continue
            try:
                event = validate_event_json(item.value or b"")
            except ValidationError:
                continue  # dead-lettered by the dataflow with the reason
            archived = Archived(source_of(item), item.offset, event)
            if not isinstance(event, BalanceEvent) or self._interval == 0:
                self._decided.append(archived)
                continue
            bucket = int(event.ts.timestamp() // self._interval)
            previous = self._pending.get(event.account_id)
            if previous is not None and not previous.written:
                if previous.bucket != bucket:
                    self._decided.append(previous.item)  # the last of its interval
                else:
                    self._superseded.append(previous.item)
            self._pending[event.account_id] = _Pending(item, archived, bucket)

    def _decide(self, *, final: bool) -> list[Archived]:
        fired = self._fired
        chosen = self._decided
        chosen.extend(
            item for item in self._superseded if (item.event.account_id, _ts(item)) in fired
        )
        for pending in self._pending.values():
            if pending.written:
                continue
            if final or (pending.item.event.account_id, _ts(pending.item)) in fired:
                chosen.append(pending.item)
                pending.written = True
        self._decided, self._superseded, self._fired = [], [], set()
        return chosen

    def _store_decided(self, *, final: bool) -> None:
        chosen = self._decide(final=final)
        statuses, self._statuses = self._statuses, []
        if chosen or statuses:
            chosen.sort(key=lambda item: (item.source, item.offset))
            self.last_report = self._store.write(chosen, statuses)

    def unconfirmed(self) -> tuple[BusMessage, ...]:
        """Epoch end: store what is decided; the undecided latest ticks are the snapshot."""
        self._store_decided(final=False)
        return tuple(p.message for p in self._pending.values() if not p.written)

    def close(self) -> None:
        """The end of a finite run: each account's latest tick is kept."""
        self._store_decided(final=True)


def status_change(event: StatusEvent) -> StatusChange:
    """The contract's status event as the plain values the store keeps."""
    return StatusChange(
        status_id=event.status_id,
        account_id=event.account_id,
        status=event.status,
        ts=event.ts,
        previous=event.previous,
        rule=event.rule,
        until=event.until,
        message=event.message,
    )


def _ts(item: Archived) -> datetime:
    event = item.event
    assert isinstance(event, BalanceEvent)
    return event.ts


def database_archive(pool: Pool, *, tick_interval_seconds: float) -> WriterFactory[ArchiveInput]:
    """The archive sink's writers over the database pool (one store per partition)."""

    def build(_part: int) -> ArchiveWriter:
        return ArchiveWriter(ArchiveStore(pool), tick_interval_seconds=tick_interval_seconds)

    return build
