"""The pipeline's archive in the database: accounts, balance ticks, trades and status
changes read from the bus, stored at least once and never twice.

Each stored event carries where it was read (``topic[partition]``) and its offset. One
account's events are in one partition, in offset order. In the same transaction as the
rows, ``archive_offsets`` records per account, source and kind (``ticks`` / ``events``)
the highest offset stored; a batch re-sent after a crash (the pipeline replays from its
last snapshot) skips what is at or below it. Ticks have their own mark because the
pipeline may hold an account's last tick back (it keeps the last tick of each interval,
:mod:`pipelines.archive`) while later trades of the account are stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from infra.db.pool import Pool
from infra.db.retry import RetryPolicy, run_with_retry
from infra.db.sinks import (
    TradeCounts,
    copy_ticks,
    insert_new,
    upsert_accounts,
    upsert_trades,
)
from schemas.events import AccountEvent, BalanceEvent, TradeEvent

Cursor = psycopg.Cursor[TupleRow]
ArchivedEvent = AccountEvent | BalanceEvent | TradeEvent


@dataclass(frozen=True, slots=True)
class Archived:
    """One event to archive and where the pipeline read it."""

    source: str  # topic[partition]
    offset: int
    event: ArchivedEvent


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An account status change (the contract's ``status`` event) as plain values."""

    status_id: str
    account_id: str
    status: str  # active | locked | failed | passed
    ts: datetime
    previous: str | None = None
    rule: str | None = None
    until: datetime | None = None
    message: str = ""


@dataclass(frozen=True)
class ArchiveReport:
    accounts: int = 0
    ticks: int = 0
    trades: TradeCounts = field(default_factory=TradeCounts)
    skipped: int = 0  # at or below the stored mark: stored before


def _kind(event: ArchivedEvent) -> str:
    return "ticks" if isinstance(event, BalanceEvent) else "events"


_LOCK_MARKS = """
INSERT INTO archive_offsets (account_id, source, last_offset)
SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[])
ON CONFLICT (account_id, source) DO NOTHING
"""
_READ_MARKS = """
SELECT account_id, source, last_offset FROM archive_offsets
WHERE (account_id, source) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
ORDER BY account_id, source
FOR UPDATE
"""
_SAVE_MARKS = """
UPDATE archive_offsets o SET last_offset = u.last_offset, updated_at = now()
FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS u (account_id, source, last_offset)
WHERE o.account_id = u.account_id AND o.source = u.source AND o.last_offset < u.last_offset
"""


def archive_items(cur: Cursor, items: Sequence[Archived], *, source: str) -> ArchiveReport:
    """Store the items not stored before (by their marks) and advance the marks; in the
    caller's transaction. ``source`` goes into ``trades.source``."""
    if not items:
        return ArchiveReport()
    keys = sorted({(i.event.account_id, f"{_kind(i.event)}@{i.source}") for i in items})
    accounts = [k[0] for k in keys]
    sources = [k[1] for k in keys]
    cur.execute(_LOCK_MARKS, (accounts, sources, [-1] * len(keys)))
    cur.execute(_READ_MARKS, (accounts, sources))
    marks = {(row[0], row[1]): int(row[2]) for row in cur.fetchall()}
    fresh: list[Archived] = []
    highest: dict[tuple[str, str], int] = {}
    for item in items:
        key = (item.event.account_id, f"{_kind(item.event)}@{item.source}")
        if item.offset <= marks[key]:
            continue
        fresh.append(item)
        highest[key] = max(highest.get(key, -1), item.offset)
    fresh.sort(key=lambda i: (i.source, i.offset))
    registered = [i.event for i in fresh if isinstance(i.event, AccountEvent)]
    ticks = [i.event for i in fresh if isinstance(i.event, BalanceEvent)]
    trades = [i.event for i in fresh if isinstance(i.event, TradeEvent)]
    report = ArchiveReport(
        accounts=upsert_accounts(cur, registered),
        ticks=copy_ticks(cur, ticks),
        trades=upsert_trades(cur, trades, source=source),
        skipped=len(items) - len(fresh),
    )
    if highest:
        saved = sorted(highest.items())
        cur.execute(
            _SAVE_MARKS,
            ([k[0] for k, _ in saved], [k[1] for k, _ in saved], [v for _, v in saved]),
        )
    return report


_INSERT_STATUS = """
INSERT INTO account_status_changes (status_id, account_id, status, previous, ts, rule, until,
                                    message)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                     %s::text[], %s::timestamptz[], %s::text[])
ON CONFLICT ON CONSTRAINT account_status_changes_status_id_key DO NOTHING
RETURNING status_id
"""


def insert_status_changes(cur: Cursor, changes: Sequence[StatusChange]) -> tuple[str, ...]:
    """Store status changes not seen before (by ``status_id``); returns the new ids in
    the order given. A change re-sent after a restart is stored once."""
    if not changes:
        return ()
    return insert_new(
        cur,
        _INSERT_STATUS,
        (
            [c.status_id for c in changes],
            [c.account_id for c in changes],
            [c.status for c in changes],
            [c.previous for c in changes],
            [c.ts for c in changes],
            [c.rule for c in changes],
            [c.until for c in changes],
            [c.message for c in changes],
        ),
        [c.status_id for c in changes],
    )


class ArchiveStore:
    """Writes archive batches, one transaction each, retried as a whole on a lost
    connection (the marks make a retry whose first commit landed store nothing twice)."""

    def __init__(
        self,
        pool: Pool,
        *,
        source: str = "pipeline",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._pool = pool
        self._source = source
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    def write(
        self, items: Sequence[Archived], status_changes: Sequence[StatusChange] = ()
    ) -> ArchiveReport:
        if not items and not status_changes:
            return ArchiveReport()

        def work(conn: psycopg.Connection[TupleRow]) -> ArchiveReport:
            with conn.cursor() as cur:
                report = archive_items(cur, items, source=self._source)
                insert_status_changes(cur, status_changes)
            return report

        return run_with_retry(
            self._pool,
            work,
            policy=self._retry,
            what=f"archive batch of {len(items)}",
            sleep=self._sleep,
        )
