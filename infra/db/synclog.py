"""Sync logs as runs: open a row when an import or broker sync starts, add counts and
errors as it goes, close it with its final status.

Every importer and live connector writes one (DESIGN.md, "Delivery guarantees"):

    log = SyncLogStore(pool)
    run = log.start("import:mt5-html:report.html", account_id="FTMO-1", format="mt5-html")
    run.count(new=3, duplicate=1)
    run.error(row=12, where="Deals/Profit", reason="'abc' is not a number", raw="...")
    log.progress(run)          # optional: store counts so far (rows_done of rows_total)
    record = log.finish(run)   # success | partial | failed, from the counts

The first :data:`MAX_STORED_ERRORS` errors are kept with their row, where and reason;
``errors_total`` counts them all. Each call is its own short transaction, retried on a
fresh connection after a lost one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from infra.db.pool import Pool
from infra.db.retry import RetryPolicy, run_with_retry

MAX_STORED_ERRORS = 1000
RAW_LIMIT = 200

SyncStatus = Literal["running", "success", "partial", "failed"]
Connection = psycopg.Connection[TupleRow]


@dataclass(slots=True)
class SyncRun:
    """A run in progress: its row id and what it has counted so far."""

    id: int
    source: str
    started_at: datetime
    account_id: str | None = None
    format: str | None = None
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    errors_total: int = 0
    ticks_stored: int = 0
    balance_events: int = 0
    rows_total: int | None = None
    rows_done: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def count(
        self,
        *,
        new: int = 0,
        updated: int = 0,
        duplicate: int = 0,
        ticks: int = 0,
        balance_events: int = 0,
        rows_done: int = 0,
    ) -> None:
        """Add to the run's counts."""
        self.new += new
        self.updated += updated
        self.duplicate += duplicate
        self.ticks_stored += ticks
        self.balance_events += balance_events
        self.rows_done += rows_done

    def error(self, *, row: int | None, reason: str, where: str = "", raw: str = "") -> None:
        """Record one error (a bad row, or ``row=None`` for the run as a whole)."""
        self.errors_total += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            entry: dict[str, Any] = {"row": row, "where": where, "reason": reason}
            if raw:
                entry["raw"] = raw[:RAW_LIMIT]
            self.errors.append(entry)

    def status(self) -> SyncStatus:
        """``success`` without errors; ``partial`` when some rows landed or were already
        stored despite errors; ``failed`` when there were only errors."""
        if not self.errors_total:
            return "success"
        landed = self.new + self.updated + self.duplicate + self.ticks_stored
        return "partial" if landed or self.balance_events else "failed"


@dataclass(frozen=True, slots=True)
class SyncLogRecord:
    """A stored sync log row."""

    id: int
    source: str
    status: SyncStatus
    account_id: str | None
    format: str | None
    started_at: datetime
    finished_at: datetime | None
    trades_new: int
    trades_updated: int
    trades_duplicate: int
    trades_error: int
    errors_total: int
    ticks_stored: int
    balance_events: int
    rows_total: int | None
    rows_done: int
    errors: list[dict[str, Any]]
    details: dict[str, Any]


_COLUMNS = """id, source, status, account_id, format, started_at, finished_at, trades_new,
    trades_updated, trades_duplicate, trades_error, errors_total, ticks_stored,
    balance_events, rows_total, rows_done, errors, details"""


def _record(row: TupleRow) -> SyncLogRecord:
    return SyncLogRecord(*row)


def start_run(
    conn: Connection,
    source: str,
    *,
    account_id: str | None = None,
    format: str | None = None,
    broker_connection_id: UUID | None = None,
    rows_total: int | None = None,
    details: Mapping[str, Any] | None = None,
    started_at: datetime | None = None,
) -> SyncRun:
    """Insert a ``running`` row; returns the run to count into."""
    started = started_at or datetime.now(UTC)
    row = conn.execute(
        """
        INSERT INTO sync_logs (account_id, broker_connection_id, source, status, started_at,
                               format, rows_total, details)
        VALUES (%s, %s, %s, 'running', %s, %s, %s, %s)
        RETURNING id
        """,
        (
            account_id,
            broker_connection_id,
            source,
            started,
            format,
            rows_total,
            Jsonb(dict(details or {})),
        ),
    ).fetchone()
    assert row is not None
    return SyncRun(
        id=int(row[0]),
        source=source,
        started_at=started,
        account_id=account_id,
        format=format,
        rows_total=rows_total,
        details=dict(details or {}),
    )


def save_run(
    conn: Connection, run: SyncRun, *, status: SyncStatus, finished_at: datetime | None
) -> SyncLogRecord:
    """Write the run's counts, errors and status onto its row."""
    row = conn.execute(
        f"""
        UPDATE sync_logs SET
            status = %s, finished_at = %s, trades_new = %s, trades_updated = %s,
            trades_duplicate = %s, trades_error = %s, errors_total = %s, ticks_stored = %s,
            balance_events = %s, rows_total = %s, rows_done = %s, errors = %s, details = %s,
            format = %s
        WHERE id = %s
        RETURNING {_COLUMNS}
        """,  # noqa: S608 -- only the fixed column list is formatted in
        (
            status,
            finished_at,
            run.new,
            run.updated,
            run.duplicate,
            run.errors_total,
            run.errors_total,
            run.ticks_stored,
            run.balance_events,
            run.rows_total,
            run.rows_done,
            Jsonb(run.errors),
            Jsonb(run.details),
            run.format,
            run.id,
        ),
    ).fetchone()
    if row is None:
        raise LookupError(f"sync log {run.id} does not exist")
    return _record(row)


def get_sync_log(conn: Connection, log_id: int) -> SyncLogRecord | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM sync_logs WHERE id = %s",  # noqa: S608 -- fixed columns
        (log_id,),
    ).fetchone()
    return None if row is None else _record(row)


def recent_sync_logs(conn: Connection, account_id: str, limit: int = 20) -> list[SyncLogRecord]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM sync_logs WHERE account_id = %s "  # noqa: S608
        "ORDER BY started_at DESC, id DESC LIMIT %s",
        (account_id, limit),
    ).fetchall()
    return [_record(row) for row in rows]


class SyncLogStore:
    """The sync-log calls over a pool, each in its own retried transaction."""

    def __init__(self, pool: Pool, retry: RetryPolicy | None = None) -> None:
        self._pool = pool
        self._retry = retry or RetryPolicy()

    def start(
        self,
        source: str,
        *,
        account_id: str | None = None,
        format: str | None = None,
        broker_connection_id: UUID | None = None,
        rows_total: int | None = None,
        details: Mapping[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> SyncRun:
        return run_with_retry(
            self._pool,
            lambda conn: start_run(
                conn,
                source,
                account_id=account_id,
                format=format,
                broker_connection_id=broker_connection_id,
                rows_total=rows_total,
                details=details,
                started_at=started_at,
            ),
            policy=self._retry,
            what="sync log start",
        )

    def progress(self, run: SyncRun) -> SyncLogRecord:
        """Store the counts so far; the run stays ``running``."""
        return run_with_retry(
            self._pool,
            lambda conn: save_run(conn, run, status="running", finished_at=None),
            policy=self._retry,
            what="sync log progress",
        )

    def finish(
        self,
        run: SyncRun,
        *,
        status: SyncStatus | None = None,
        finished_at: datetime | None = None,
    ) -> SyncLogRecord:
        """Close the run: ``status`` (default: from its counts) and the finish time."""
        final = status or run.status()
        done = finished_at or datetime.now(UTC)
        return run_with_retry(
            self._pool,
            lambda conn: save_run(conn, run, status=final, finished_at=done),
            policy=self._retry,
            what="sync log finish",
        )

    def fail(self, run: SyncRun, reason: str) -> SyncLogRecord:
        """Close the run as ``failed`` with a run-level error (the import stopped)."""
        run.error(row=None, reason=reason)
        return self.finish(run, status="failed")

    def get(self, log_id: int) -> SyncLogRecord | None:
        return run_with_retry(
            self._pool,
            lambda conn: get_sync_log(conn, log_id),
            policy=self._retry,
            what="sync log read",
        )

    def recent(self, account_id: str, limit: int = 20) -> list[SyncLogRecord]:
        return run_with_retry(
            self._pool,
            lambda conn: recent_sync_logs(conn, account_id, limit),
            policy=self._retry,
            what="sync log read",
        )
