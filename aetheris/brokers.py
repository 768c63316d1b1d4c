"""Wiring of the broker side of the API (composition root): the MetaTrader bridge's ingest
over the statement importer, the stores, and the sync-job queue.

A bridge batch goes the way of a statement import (validate, dedup by (account, broker
trade id), publish in event-time order, store in one transaction, one sync log), with
the batch's equity snapshots published and stored as balance events under the same
sync log.
"""

from __future__ import annotations

import threading
from datetime import datetime
from uuid import uuid4

import redis

from api.brokerports import BridgeRejected, BrokerServices
from connectors.metatrader.bridge import BridgeBatchError, parse_batch, read_batch
from connectors.statements.importer import ImportRequest, StatementImportError, import_statement
from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.registry import FORMATS
from infra.bus import BusError, EventPublisher
from infra.db.brokers import PostgresBridge, PostgresBrokerConnections, PostgresSyncJobs
from infra.db.pool import Pool
from infra.db.statements import ImportRows, store_import
from infra.db.synclog import SyncLogRecord, SyncLogStore, SyncRun, SyncStatus
from infra.jobs import RqJobQueue, retry_intervals
from infra.secrets import SecretBox
from infra.settings import Settings
from schemas.brokers import BridgeAccepted
from schemas.events import BalanceEvent

BRIDGE_FORMAT = "mt5-bridge"


class _Parsed:
    """A statement format that hands back a batch parsed already."""

    name = BRIDGE_FORMAT

    def __init__(self, parsed: ParsedStatement) -> None:
        self._parsed = parsed

    def sniff(self, head: bytes, filename: str) -> bool:
        return False

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedStatement:
        return self._parsed


class _WithSnapshots(SyncLogStore):
    """The import's sync log, which publishes and stores the batch's equity snapshots
    just before the run is closed, and counts them into it."""

    def __init__(
        self,
        pool: Pool,
        publisher: EventPublisher,
        snapshots: list[BalanceEvent],
        account_id: str,
    ) -> None:
        super().__init__(pool)
        self._pool = pool
        self._publisher = publisher
        self._snapshots = snapshots
        self._account_id = account_id

    def finish(
        self,
        run: SyncRun,
        *,
        status: SyncStatus | None = None,
        finished_at: datetime | None = None,
    ) -> SyncLogRecord:
        if self._snapshots:
            for event in self._snapshots:
                self._publisher.publish_event(event)
            self._publisher.flush()
            stored = store_import(
                self._pool,
                batch_id=uuid4(),
                account_id=self._account_id,
                source=f"bridge:{BRIDGE_FORMAT}",
                account=None,
                rows=ImportRows(new_trades=[], ticks=self._snapshots),
            )
            run.count(ticks=stored.ticks, balance_events=len(self._snapshots))
        return super().finish(run, status=status, finished_at=finished_at)


class MetaTraderIngest:
    """:class:`api.brokerports.BridgeIngest` over the statement importer."""

    def __init__(self, pool: Pool, publisher: EventPublisher) -> None:
        self._pool = pool
        self._publisher = publisher
        self._lock = threading.Lock()  # one batch at a time through the publisher

    def ingest(self, account_id: str, body: bytes, now: datetime) -> BridgeAccepted:
        try:
            batch = read_batch(body)
        except BridgeBatchError as exc:
            raise BridgeRejected(422, str(exc)) from None
        parsed = parse_batch(batch, ParseContext(account_id, None, f"bridge:{batch.batch_id}"))
        request = ImportRequest(
            data=body,
            filename=f"bridge:{batch.batch_id}",
            account_id=account_id,
            format_name=BRIDGE_FORMAT,
            statement_format=_Parsed(parsed.statement),
        )
        logs = _WithSnapshots(self._pool, self._publisher, parsed.snapshots, account_id)
        with self._lock:
            try:
                result = import_statement(
                    request, pool=self._pool, publisher=self._publisher, now=now, sync_logs=logs
                )
            except StatementImportError as exc:
                raise BridgeRejected(422, exc.reason) from None
            except BusError as exc:
                raise BridgeRejected(
                    503, f"the event bus did not take the batch ({exc}); send it again"
                ) from None
        return BridgeAccepted(
            batch_id=batch.batch_id,
            sync_log_id=result.sync_log_id,
            status=result.status,
            new=result.new,
            updated=result.updated,
            duplicates=result.duplicates,
            balance_events=result.balance_events + len(parsed.snapshots),
            errors=[
                {"row": e.row, "where": e.where, "reason": e.reason} for e in result.errors[:100]
            ],
        )


def broker_services(
    settings: Settings,
    pool: Pool,
    publisher: EventPublisher,
    box: SecretBox,
    redis_client: redis.Redis[bytes],
) -> BrokerServices:
    """The broker side of the API on PostgreSQL, the bus and the Redis queue."""
    return BrokerServices(
        connections=PostgresBrokerConnections(pool, box),
        bridge=PostgresBridge(pool, box),
        ingest=MetaTraderIngest(pool, publisher),
        jobs=PostgresSyncJobs(pool),
        queue=RqJobQueue(
            redis_client,
            settings.sync_queue,
            retry_intervals=retry_intervals(settings.sync_retry_seconds),
        ),
        bridge_window_seconds=settings.bridge_window_seconds,
        bridge_max_body_bytes=settings.bridge_max_body_bytes,
        upload_max_bytes=settings.upload_max_bytes,
        formats=("auto", *sorted(FORMATS)),
    )


BODY_LIMIT_PATHS = ("/api/v1/bridge/", "/api/v1/brokers/sync/")


def body_limits(settings: Settings) -> tuple[tuple[str, int], ...]:
    """The hardening middleware's larger caps for the bridge and statement uploads (the
    routes check their own exact caps)."""
    return (
        (BODY_LIMIT_PATHS[0], settings.bridge_max_body_bytes),
        (BODY_LIMIT_PATHS[1], settings.upload_max_bytes),
    )
