"""What the broker routes need (issue 13, items 6-8): connection, bridge and job stores,
the bridge's ingest and the sync-job queue; wired in ``aetheris`` (composition root)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from schemas.brokers import BridgeAccepted, ConnectionCreate, ConnectionView


class BrokerConnections(Protocol):
    """An account's broker connections (infra.db.brokers); credentials go in only."""

    def create(self, owner_id: UUID, account_id: str, body: ConnectionCreate) -> ConnectionView: ...

    def for_account(self, owner_id: UUID, account_id: str) -> list[ConnectionView]: ...

    def delete(self, owner_id: UUID, account_id: str, connection_id: UUID) -> bool: ...

    def find(self, account_id: str, kind: str, label: str | None = None) -> UUID | None: ...


class BridgeStore(Protocol):
    """Bridge keys and accepted batch ids (infra.db.brokers)."""

    def issue_key(self, account_id: str, key: str) -> datetime: ...

    def key(self, account_id: str) -> bytes | None: ...

    def remember_batch(
        self, account_id: str, batch_id: str, now: datetime, window: float
    ) -> bool: ...

    def forget_batch(self, account_id: str, batch_id: str) -> None: ...

    def link_sync_log(self, account_id: str, batch_id: str, sync_log_id: int) -> None: ...


class BridgeRejected(ValueError):
    """The batch cannot be taken as a whole (not a batch, the bus is down, …)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class BridgeIngest(Protocol):
    """A verified batch → trades and balance events, published and stored, one sync log."""

    def ingest(self, account_id: str, body: bytes, now: datetime) -> BridgeAccepted: ...


class SyncJobRecord(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def account_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def sync_log_id(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...


class SyncJobs(Protocol):
    """Sync jobs (infra.db.brokers.PostgresSyncJobs)."""

    def create(
        self,
        owner_id: UUID,
        account_id: str,
        kind: str,
        *,
        connection_id: UUID | None = None,
        format: str | None = None,
        filename: str | None = None,
        timezone: str | None = None,
        payload: bytes | None = None,
    ) -> UUID: ...

    def owned(self, owner_id: UUID, job_id: UUID) -> SyncJobRecord | None: ...

    def sync_log(self, sync_log_id: int) -> dict[str, object] | None: ...

    def finish(
        self, job_id: UUID, status: str, now: datetime, *, error: str | None = None
    ) -> None: ...


class JobQueue(Protocol):
    """Hands a stored job to the workers (infra.jobs: a Redis-backed rq queue)."""

    def enqueue(self, job_id: UUID) -> None: ...


@dataclass
class BrokerServices:
    """The broker side of the API; ``None`` in :class:`api.services.ApiServices` turns
    its routes off (503)."""

    connections: BrokerConnections
    bridge: BridgeStore
    ingest: BridgeIngest
    jobs: SyncJobs
    queue: JobQueue
    bridge_window_seconds: float = 300.0
    bridge_max_body_bytes: int = 1_048_576
    upload_max_bytes: int = 20 * 1_048_576
    # Statement format names an upload may name (``auto`` recognises the file).
    formats: tuple[str, ...] = ("auto",)
