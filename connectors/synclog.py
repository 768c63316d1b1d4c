"""The sync log of a live connector run: counts, and each error with where and why.

A run is one FIX session (logon to logout), or one REST poll that found transactions.
The connector counts into a :class:`SyncRun`; a :class:`SyncLogWriter` keeps it: the
``sync_logs`` table through :class:`infra.db.synclog.SyncLogStore` (a ``running`` row
while a FIX session is up, closed with its status), or memory in unit tests.

A sync log that cannot be written is logged and the connector goes on: the trades
matter more than the bookkeeping about them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from infra.db.synclog import SyncLogRecord, SyncLogStore
from infra.db.synclog import SyncRun as StoredRun

_log = logging.getLogger("aetheris.connectors.synclog")

# Reasons kept per run; the counts include every error.
MAX_LOGGED_ERRORS = 100

Counted = Literal["new", "updated", "duplicate", "ignored"]


@dataclass(slots=True)
class SyncRun:
    """What one run did: trades new, updated, duplicate; errors with where and why."""

    source: str
    account_id: str
    started_at: datetime
    format: str = "connector"
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    ignored: int = 0
    ticks: int = 0  # balance events published
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


class SyncLogWriter(Protocol):
    def start(self, run: SyncRun) -> None:
        """The run began (a row says ``running``)."""
        ...

    def progress(self, run: SyncRun) -> None:
        """Store the counts so far; the run goes on."""
        ...

    def finish(self, run: SyncRun, finished_at: datetime) -> None:
        """The run ended: its final counts and status."""
        ...


def _record(run: SyncRun, finished_at: datetime | None, status: str, row_id: int) -> SyncLogRecord:
    return SyncLogRecord(
        id=row_id,
        source=run.source,
        status=status,  # type: ignore[arg-type]
        account_id=run.account_id,
        format=run.format,
        started_at=run.started_at,
        finished_at=finished_at,
        trades_new=run.new,
        trades_updated=run.updated,
        trades_duplicate=run.duplicate,
        trades_error=run.error_count,
        errors_total=run.error_count,
        ticks_stored=0,
        balance_events=run.ticks,
        rows_total=None,
        rows_done=0,
        errors=[{"row": None, **e} for e in run.errors],
        details={},
    )


class MemorySyncLogWriter:
    """Keeps the finished runs as the rows the database would hold (unit tests)."""

    def __init__(self) -> None:
        self.logs: list[SyncLogRecord] = []
        self.running: list[SyncRun] = []

    def start(self, run: SyncRun) -> None:
        self.running.append(run)

    def progress(self, run: SyncRun) -> None:
        pass

    def finish(self, run: SyncRun, finished_at: datetime) -> None:
        if run in self.running:
            self.running.remove(run)
        self.logs.append(_record(run, finished_at, run.status, len(self.logs) + 1))


class PostgresSyncLogWriter:
    """Runs as ``sync_logs`` rows through the statements' :class:`SyncLogStore`."""

    def __init__(self, store: SyncLogStore) -> None:
        self.store = store
        self._rows: dict[int, StoredRun] = {}
        self.ids: list[int] = []

    def _stored(self, run: SyncRun) -> StoredRun:
        stored = self._rows.get(id(run))
        if stored is None:
            stored = self.store.start(
                run.source, account_id=run.account_id, format=run.format, started_at=run.started_at
            )
            self._rows[id(run)] = stored
            self.ids.append(stored.id)
        stored.new, stored.updated, stored.duplicate = run.new, run.updated, run.duplicate
        stored.errors_total = run.error_count
        stored.balance_events = run.ticks
        stored.errors = [{"row": None, **e} for e in run.errors]
        return stored

    def start(self, run: SyncRun) -> None:
        try:
            self._stored(run)
        except Exception as exc:  # the bookkeeping must not stop the trades
            _log.warning("sync log of %s not started: %s", run.source, exc)

    def progress(self, run: SyncRun) -> None:
        try:
            self.store.progress(self._stored(run))
        except Exception as exc:
            _log.warning("sync log of %s not updated: %s", run.source, exc)

    def finish(self, run: SyncRun, finished_at: datetime) -> None:
        try:
            stored = self._stored(run)
            self.store.finish(stored, status=run.status, finished_at=finished_at)
            del self._rows[id(run)]
        except Exception as exc:
            _log.warning("sync log of %s not finished: %s", run.source, exc)
