"""The sync log of a live connector run: counts and each error with its reason.

A run is one FIX session (logon to logout) or one REST poll that found transactions.
The connector counts into a :class:`SyncRun`; a :class:`SyncLogWriter` stores it
(PostgreSQL's ``sync_logs`` table, or memory in unit tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from infra.db.pool import Pool
from infra.db.repositories import SyncLog, record_sync_log
from infra.db.retry import RetryPolicy, run_with_retry

# Reasons kept per run; the counts include every error.
MAX_LOGGED_ERRORS = 100

Counted = Literal["new", "updated", "duplicate", "ignored"]


@dataclass(slots=True)
class SyncRun:
    """What one run did: trades new, updated, duplicate; errors with where and why."""

    source: str
    account_id: str
    started_at: datetime
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    ignored: int = 0
    ticks: int = 0
    error_count: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def count(self, kind: Counted) -> None:
        if kind == "new":
            self.new += 1
        elif kind == "updated":
            self.updated += 1
        elif kind == "duplicate":
            self.duplicate += 1
        else:
            self.ignored += 1

    def error(self, where: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LOGGED_ERRORS:
            self.errors.append({"where": where, "reason": reason})

    @property
    def empty(self) -> bool:
        return not (self.new or self.updated or self.duplicate or self.error_count)

    @property
    def status(self) -> Literal["success", "partial", "failed"]:
        if not self.error_count:
            return "success"
        return "partial" if self.new or self.updated or self.duplicate else "failed"

    def to_sync_log(self, finished_at: datetime) -> SyncLog:
        return SyncLog(
            source=self.source,
            status=self.status,
            started_at=self.started_at,
            finished_at=finished_at,
            account_id=self.account_id,
            trades_new=self.new,
            trades_updated=self.updated,
            trades_duplicate=self.duplicate,
            trades_error=self.error_count,
            ticks_stored=self.ticks,
            errors=list(self.errors),
        )


class SyncLogWriter(Protocol):
    def write(self, run: SyncRun, finished_at: datetime) -> None: ...


class MemorySyncLogWriter:
    """Keeps the runs (unit tests, or no database)."""

    def __init__(self) -> None:
        self.logs: list[SyncLog] = []

    def write(self, run: SyncRun, finished_at: datetime) -> None:
        self.logs.append(run.to_sync_log(finished_at))


class PostgresSyncLogWriter:
    """One ``sync_logs`` row per run, retried on transient database errors."""

    def __init__(self, pool: Pool, retry: RetryPolicy | None = None) -> None:
        self.pool = pool
        self.retry = retry or RetryPolicy()
        self.ids: list[int] = []

    def write(self, run: SyncRun, finished_at: datetime) -> None:
        log = run.to_sync_log(finished_at)
        self.ids.append(
            run_with_retry(
                self.pool,
                lambda conn: record_sync_log(conn, log),
                policy=self.retry,
                what="sync log",
            )
        )
