"""Broker connections (credentials encrypted at rest), bridge keys and accepted bridge
batches, and sync jobs, in PostgreSQL (migration 0010).

Every owner-facing read or write joins ``accounts`` on the owner's id, so another user's
connection or job looks exactly like a missing one. Credentials are encrypted with the
key box (:class:`infra.secrets.SecretBox`) before they reach the database and are
decrypted only for the process that uses them (the sync worker, ``connect rest``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from infra.db.synclog import get_sync_log
from infra.secrets import SecretBox
from schemas.brokers import ConnectionCreate, ConnectionView

Pool = ConnectionPool[psycopg.Connection[TupleRow]]

_OWNED = """
    JOIN accounts a ON a.account_id = c.account_id
    WHERE a.owner_id = %s AND a.deleted_at IS NULL
"""
_VIEW_COLUMNS = """c.id, c.account_id, c.broker_kind, c.broker, c.label, c.settings,
    c.credentials_ciphertext IS NOT NULL, c.sync_status, c.last_sync_at, c.last_error,
    c.created_at"""


def _view(row: TupleRow) -> ConnectionView:
    return ConnectionView(
        id=row[0],
        account_id=row[1],
        kind=row[2],
        broker=row[3],
        label=row[4],
        settings=row[5],
        has_credentials=row[6],
        sync_status=row[7],
        last_sync_at=row[8],
        last_error=row[9],
        created_at=row[10],
    )


class ConnectionExists(ValueError):
    """The account has a connection of that kind and label already."""


@dataclass(frozen=True, slots=True)
class StoredConnection:
    """A connection with its decrypted credentials, for the process that uses them."""

    view: ConnectionView
    credentials: dict[str, str]


class PostgresBrokerConnections:
    """Broker connections by owner; credentials in and out only through the key box."""

    def __init__(self, pool: Pool, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    def create(self, owner_id: UUID, account_id: str, body: ConnectionCreate) -> ConnectionView:
        ciphertext = (
            self._box.encrypt(json.dumps(body.credentials).encode("utf-8"))
            if body.credentials
            else None
        )
        with self._pool.connection() as conn:
            owned = conn.execute(
                "SELECT 1 FROM accounts WHERE account_id = %s AND owner_id = %s "
                "AND deleted_at IS NULL",
                (account_id, owner_id),
            ).fetchone()
            if owned is None:
                raise LookupError(account_id)
            try:
                row = conn.execute(
                    """
                    INSERT INTO broker_connections (account_id, broker_kind, broker, label,
                        settings, credentials_ciphertext, credentials_key_id)
                    VALUES (%s, %s, %s, %s, %s, %s, %s)
                    RETURNING id
                    """,
                    (
                        account_id,
                        body.kind,
                        body.broker,
                        body.label,
                        Jsonb(dict(body.settings)),
                        ciphertext,
                        self._box.newest_key_id if ciphertext is not None else None,
                    ),
                ).fetchone()
            except psycopg.errors.UniqueViolation:
                raise ConnectionExists(
                    f"the account has a {body.kind} connection labelled {body.label!r} already"
                ) from None
        assert row is not None
        found = self.get(owner_id, row[0])
        assert found is not None
        return found

    def get(self, owner_id: UUID, connection_id: UUID) -> ConnectionView | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_VIEW_COLUMNS} FROM broker_connections c {_OWNED} AND c.id = %s",  # noqa: S608
                (owner_id, connection_id),
            ).fetchone()
        return None if row is None else _view(row)

    def for_account(self, owner_id: UUID, account_id: str) -> list[ConnectionView]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_VIEW_COLUMNS} FROM broker_connections c {_OWNED} "  # noqa: S608
                "AND c.account_id = %s ORDER BY c.created_at, c.id",
                (owner_id, account_id),
            ).fetchall()
        return [_view(row) for row in rows]

    def delete(self, owner_id: UUID, account_id: str, connection_id: UUID) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute(
                """
                DELETE FROM broker_connections c USING accounts a
                WHERE c.id = %s AND c.account_id = %s AND a.account_id = c.account_id
                  AND a.owner_id = %s AND a.deleted_at IS NULL
                """,
                (connection_id, account_id, owner_id),
            )
            return cur.rowcount == 1

    def with_credentials(self, connection_id: UUID) -> StoredConnection | None:
        """The connection and its decrypted credentials (for the worker; not owner-checked:
        the job that names it was)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_VIEW_COLUMNS}, c.credentials_ciphertext "  # noqa: S608
                "FROM broker_connections c WHERE c.id = %s",
                (connection_id,),
            ).fetchone()
        if row is None:
            return None
        secret = row[11]
        credentials = json.loads(self._box.decrypt(bytes(secret))) if secret is not None else {}
        return StoredConnection(_view(row), credentials)

    def find(self, account_id: str, kind: str, label: str | None = None) -> UUID | None:
        """The id of the account's connection of ``kind`` (and ``label``), oldest first."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT id FROM broker_connections WHERE account_id = %s AND broker_kind = %s "
                "AND (%s::text IS NULL OR label = %s) ORDER BY created_at, id LIMIT 1",
                (account_id, kind, label, label),
            ).fetchone()
        return None if row is None else row[0]

    def mark(
        self, connection_id: UUID, status: str, at: datetime, error: str | None = None
    ) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE broker_connections SET sync_status = %s, last_error = %s, "
                "last_sync_at = CASE WHEN %s = 'running' THEN last_sync_at ELSE %s END "
                "WHERE id = %s",
                (status, error, status, at, connection_id),
            )

    def load_state(self, connection_id: UUID) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT poll_state FROM broker_connections WHERE id = %s", (connection_id,)
            ).fetchone()
        state: dict[str, Any] | None = row[0] if row is not None else None
        return state

    def save_state(self, connection_id: UUID, state: dict[str, Any]) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE broker_connections SET poll_state = %s WHERE id = %s",
                (Jsonb(state), connection_id),
            )

    # `aetheris secrets rotate` ------------------------------------------------------

    def ciphertexts(self) -> Iterator[tuple[UUID, bytes]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, credentials_ciphertext FROM broker_connections "
                "WHERE credentials_ciphertext IS NOT NULL ORDER BY id"
            ).fetchall()
        for connection_id, ciphertext in rows:
            yield connection_id, bytes(ciphertext)

    def replace_ciphertext(self, connection_id: UUID, old: bytes, new: bytes) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE broker_connections SET credentials_ciphertext = %s, "
                "credentials_key_id = %s WHERE id = %s AND credentials_ciphertext = %s",
                (new, self._box.newest_key_id, connection_id, old),
            )
            return cur.rowcount == 1


class PostgresBridge:
    """Bridge keys (encrypted) and the batch ids accepted within the replay window."""

    def __init__(self, pool: Pool, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    def issue_key(self, account_id: str, key: str) -> datetime:
        """Store ``key`` as the account's bridge key, replacing any older one."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """
                INSERT INTO bridge_keys (account_id, key_ciphertext) VALUES (%s, %s)
                ON CONFLICT (account_id) DO UPDATE
                    SET key_ciphertext = EXCLUDED.key_ciphertext, created_at = now()
                RETURNING created_at
                """,
                (account_id, self._box.encrypt(key.encode("utf-8"))),
            ).fetchone()
        assert row is not None
        created: datetime = row[0]
        return created

    def key(self, account_id: str) -> bytes | None:
        """The account's bridge key (decrypted), or ``None``."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT b.key_ciphertext FROM bridge_keys b JOIN accounts a "
                "ON a.account_id = b.account_id WHERE b.account_id = %s "
                "AND a.deleted_at IS NULL",
                (account_id,),
            ).fetchone()
        return None if row is None else self._box.decrypt(bytes(row[0]))

    def remember_batch(self, account_id: str, batch_id: str, now: datetime, window: float) -> bool:
        """Record the batch id; ``False`` when it was accepted already within the window."""
        with self._pool.connection() as conn:
            conn.execute(
                "DELETE FROM bridge_batches WHERE account_id = %s AND received_at < %s",
                (account_id, now - timedelta(seconds=2 * window)),
            )
            cur = conn.execute(
                "INSERT INTO bridge_batches (account_id, batch_id, received_at) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (account_id, batch_id, now),
            )
            return cur.rowcount == 1

    def forget_batch(self, account_id: str, batch_id: str) -> None:
        """Drop a batch id whose processing failed, so the EA's retry is taken."""
        with self._pool.connection() as conn:
            conn.execute(
                "DELETE FROM bridge_batches WHERE account_id = %s AND batch_id = %s",
                (account_id, batch_id),
            )

    def link_sync_log(self, account_id: str, batch_id: str, sync_log_id: int) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE bridge_batches SET sync_log_id = %s WHERE account_id = %s "
                "AND batch_id = %s",
                (sync_log_id, account_id, batch_id),
            )

    def ciphertexts(self) -> Iterator[tuple[str, bytes]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT account_id, key_ciphertext FROM bridge_keys ORDER BY account_id"
            ).fetchall()
        for account_id, ciphertext in rows:
            yield account_id, bytes(ciphertext)

    def replace_ciphertext(self, account_id: str, old: bytes, new: bytes) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE bridge_keys SET key_ciphertext = %s WHERE account_id = %s "
                "AND key_ciphertext = %s",
                (new, account_id, old),
            )
            return cur.rowcount == 1


@dataclass(frozen=True, slots=True)
class SyncJob:
    """A stored sync job (the worker's view: with its payload)."""

    id: UUID
    owner_id: UUID
    account_id: str
    kind: str
    broker_connection_id: UUID | None
    format: str | None
    filename: str | None
    timezone: str | None
    payload: bytes | None
    status: str
    attempts: int
    sync_log_id: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


_JOB_COLUMNS = """j.id, j.owner_id, j.account_id, j.kind, j.broker_connection_id, j.format,
    j.filename, j.timezone, j.payload, j.status, j.attempts, j.sync_log_id, j.error,
    j.created_at, j.finished_at"""


def _job(row: TupleRow) -> SyncJob:
    values = list(row)
    if values[8] is not None:
        values[8] = bytes(values[8])
    return SyncJob(*values)


class PostgresSyncJobs:
    """Sync jobs: created by the API (owner-checked), run by the sync worker."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

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
    ) -> UUID:
        with self._pool.connection() as conn:
            row = conn.execute(
                """
                INSERT INTO sync_jobs (owner_id, account_id, kind, broker_connection_id,
                    format, filename, timezone, payload)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
                """,
                (owner_id, account_id, kind, connection_id, format, filename, timezone, payload),
            ).fetchone()
        assert row is not None
        job_id: UUID = row[0]
        return job_id

    def get(self, job_id: UUID) -> SyncJob | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM sync_jobs j WHERE j.id = %s",  # noqa: S608
                (job_id,),
            ).fetchone()
        return None if row is None else _job(row)

    def owned(self, owner_id: UUID, job_id: UUID) -> SyncJob | None:
        job = self.get(job_id)
        return job if job is not None and job.owner_id == owner_id else None

    def account_currency(self, account_id: str) -> str | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT currency FROM accounts WHERE account_id = %s", (account_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def start_attempt(self, job_id: UUID) -> int:
        """Mark the job running and count the attempt; returns the attempt number."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE sync_jobs SET status = 'running', attempts = attempts + 1, "
                "error = NULL WHERE id = %s RETURNING attempts",
                (job_id,),
            ).fetchone()
        if row is None:
            raise LookupError(f"sync job {job_id} does not exist")
        attempts: int = row[0]
        return attempts

    def link_sync_log(self, job_id: UUID, sync_log_id: int) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE sync_jobs SET sync_log_id = %s WHERE id = %s", (sync_log_id, job_id)
            )

    def finish(self, job_id: UUID, status: str, now: datetime, *, error: str | None = None) -> None:
        """``done`` / ``failed`` (payload dropped: the sync log keeps what happened) or
        ``retrying`` (payload kept for the next attempt)."""
        final = status in ("done", "failed")
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE sync_jobs SET status = %s, error = %s, "
                "finished_at = CASE WHEN %s THEN %s ELSE finished_at END, "
                "payload = CASE WHEN %s THEN NULL ELSE payload END WHERE id = %s",
                (status, error, final, now, final, job_id),
            )

    def sync_log(self, sync_log_id: int) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            record = get_sync_log(conn, sync_log_id)
        if record is None:
            return None
        return {
            "id": record.id,
            "status": record.status,
            "source": record.source,
            "format": record.format,
            "started_at": record.started_at.isoformat(),
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
            "new": record.trades_new,
            "updated": record.trades_updated,
            "duplicates": record.trades_duplicate,
            "balance_events": record.balance_events,
            "rows_total": record.rows_total,
            "rows_done": record.rows_done,
            "errors_total": record.errors_total,
            "errors": record.errors,
            "details": record.details,
        }
