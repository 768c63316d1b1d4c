"""Sync jobs, run by ``aetheris worker sync`` off the Redis (rq) queue.

A job is a row of ``sync_jobs`` (the API made it, owner-checked); the queue carries only
its id. ``statement``: the uploaded bytes go through the statement importer (parse,
validate, dedup, publish, store, sync log). ``poll``: one poll run of a stored OANDA
connection, its token decrypted here and nowhere else, resuming from the connection's
stored poll state.

Bad input (unknown format, unreadable file, unknown account, a refused URL or token)
fails the job at once with the reason; anything else (database, bus or broker briefly
away) is retried by rq after the configured intervals, and fails the job once the
retries are spent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from connectors.oanda.client import FatalError, OandaClient
from connectors.oanda.connector import OandaPoller
from connectors.oanda.parse import OandaBook
from connectors.statefile import JsonStateFile
from connectors.statements.importer import ImportRequest, StatementImportError, import_statement
from connectors.statements.timezones import TimezoneError, resolve_timezone
from connectors.synclog import PostgresSyncLogWriter
from connectors.synclog import SyncRun as ConnectorRun
from infra.bus import EventPublisher
from infra.db.brokers import PostgresBrokerConnections, PostgresSyncJobs, SyncJob
from infra.db.pool import Pool
from infra.db.synclog import SyncLogStore, SyncRun
from infra.notify.ssrf import IPNetwork, SystemResolver, UnsafeUrlError, check_url
from infra.secrets import SecretBox

_log = logging.getLogger("aetheris.sync")


class JobRefused(ValueError):
    """The job cannot succeed however often it is tried; the reason is stored."""


@dataclass
class SyncContext:
    """What a sync job runs on (built once per worker process)."""

    pool: Pool
    publisher: EventPublisher
    box: SecretBox
    oanda_api_url: str
    allowed_networks: Sequence[IPNetwork] = ()
    http_timeout: float = 10.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    closers: list[Callable[[], None]] = field(default_factory=list)


_context: SyncContext | None = None


def set_context(context: SyncContext | None) -> None:
    """The worker (or a test) hands in what jobs run on."""
    global _context  # noqa: PLW0603 -- one context per worker process, set at start
    _context = context


def current_context() -> SyncContext:
    if _context is None:
        raise RuntimeError("no sync context: run jobs with `aetheris worker sync`")
    return _context


class _LinkedLogs(SyncLogStore):
    """The import's sync log, linked to the job as soon as it is opened."""

    def __init__(self, pool: Pool, jobs: PostgresSyncJobs, job_id: UUID) -> None:
        super().__init__(pool)
        self._jobs = jobs
        self._job_id = job_id

    def start(self, source: str, **kwargs: Any) -> SyncRun:
        run = super().start(source, **kwargs)
        self._jobs.link_sync_log(self._job_id, run.id)
        return run


class _ConnectionState(JsonStateFile):
    """The poller's state in the connection's row, not in a local file."""

    def __init__(self, connections: PostgresBrokerConnections, connection_id: UUID) -> None:
        super().__init__(Path(f"broker-connection-{connection_id}.json"))
        self._connections = connections
        self._id = connection_id

    def load(self) -> dict[str, Any] | None:
        return self._connections.load_state(self._id)

    def save(self, state: dict[str, Any]) -> None:
        self._connections.save_state(self._id, state)


def _statement(ctx: SyncContext, jobs: PostgresSyncJobs, job: SyncJob) -> str:
    if job.payload is None:
        raise JobRefused("the uploaded statement is no longer stored")
    try:
        timezone = resolve_timezone(job.timezone) if job.timezone else None
    except TimezoneError as exc:
        raise JobRefused(f"timezone: {exc}") from None
    request = ImportRequest(
        data=job.payload,
        filename=job.filename or "statement",
        account_id=job.account_id,
        format_name=job.format or "auto",
        timezone=timezone,
    )
    try:
        result = import_statement(
            request,
            pool=ctx.pool,
            publisher=ctx.publisher,
            now=ctx.clock(),
            sync_logs=_LinkedLogs(ctx.pool, jobs, job.id),
        )
    except StatementImportError as exc:
        raise JobRefused(exc.reason) from None
    return result.status


def _poll(ctx: SyncContext, jobs: PostgresSyncJobs, job: SyncJob) -> str:
    connections = PostgresBrokerConnections(ctx.pool, ctx.box)
    if job.broker_connection_id is None:
        raise JobRefused("the broker connection was deleted")
    stored = connections.with_credentials(job.broker_connection_id)
    if stored is None:
        raise JobRefused("the broker connection was deleted")
    view = stored.view
    if view.kind != "rest" or view.broker not in ("oanda", ""):
        raise JobRefused(f"polling {view.kind}/{view.broker or '?'} connections is not supported")
    token = stored.credentials.get("api_token")
    broker_account = str(view.settings.get("broker_account", ""))
    if not token or not broker_account:
        raise JobRefused("the connection needs settings.broker_account and credentials.api_token")
    url = str(view.settings.get("api_url") or ctx.oanda_api_url)
    since = view.settings.get("since_transaction_id")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
        raise JobRefused("settings.since_transaction_id must be a whole number")
    try:
        check_url(url, SystemResolver(), ctx.allowed_networks)
    except UnsafeUrlError as exc:
        raise JobRefused(f"settings.api_url refused: {exc}") from None
    connections.mark(view.id, "running", ctx.clock())
    try:
        client = OandaClient(url, broker_account, token, timeout=ctx.http_timeout)
    except ValueError as exc:
        raise JobRefused(str(exc)) from None
    writer = PostgresSyncLogWriter(SyncLogStore(ctx.pool))
    source = f"rest:oanda:{broker_account}"
    try:
        poller = OandaPoller(
            client,
            OandaBook(job.account_id),
            ctx.publisher,
            _ConnectionState(connections, view.id),
            writer,
            source=source,
            clock=ctx.clock,
            since_transaction_id=since,
            currency=jobs.account_currency(job.account_id),
        )
        run = poller.poll_once()
    except FatalError as exc:
        connections.mark(view.id, "failed", ctx.clock(), str(exc))
        raise JobRefused(str(exc)) from None
    except Exception as exc:
        connections.mark(view.id, "failed", ctx.clock(), f"{type(exc).__name__}: {exc}")
        raise
    finally:
        client.close()
    if not writer.ids:  # nothing new: still one sync log for the run
        empty = ConnectorRun(source, job.account_id, run.started_at, format="oanda")
        writer.start(empty)
        writer.finish(empty, ctx.clock())
    jobs.link_sync_log(job.id, writer.ids[-1])
    connections.mark(view.id, "success", ctx.clock())
    return run.status


def _retries_left() -> int:
    from rq import get_current_job  # noqa: PLC0415

    current = get_current_job()
    return int(current.retries_left or 0) if current is not None else 0


def run_sync_job(job_id: str) -> str:
    """The rq job: run sync job ``job_id`` once (module doc); returns its final status."""
    ctx = current_context()
    jobs = PostgresSyncJobs(ctx.pool)
    job = jobs.get(UUID(job_id))
    if job is None:
        _log.warning("sync job %s does not exist (deleted with its account?)", job_id)
        return "gone"
    attempt = jobs.start_attempt(job.id)
    try:
        outcome = _statement(ctx, jobs, job) if job.kind == "statement" else _poll(ctx, jobs, job)
    except JobRefused as exc:
        jobs.finish(job.id, "failed", ctx.clock(), error=str(exc))
        _log.warning("sync job %s failed: %s", job.id, exc)
        return "failed"
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if _retries_left() > 0:
            jobs.finish(job.id, "retrying", ctx.clock(), error=reason)
            _log.warning("sync job %s attempt %d failed, will retry: %s", job.id, attempt, reason)
        else:
            jobs.finish(job.id, "failed", ctx.clock(), error=reason)
            _log.error("sync job %s gave up after %d attempts: %s", job.id, attempt, reason)
        raise
    jobs.finish(job.id, "done", ctx.clock())
    _log.info("sync job %s done (%s)", job.id, outcome)
    return outcome
