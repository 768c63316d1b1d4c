"""Webhook endpoints, the delivery queues (webhook and e-mail) and the worker's bus offsets,
in PostgreSQL, over a connection the caller passes in (and commits).

The queues are tables the workers poll: a delivery is claimed with
``FOR UPDATE SKIP LOCKED`` (several workers never take the same row) and leased for a
bounded time; a worker that dies mid-send leaves the lease to run out, and the delivery
is taken up again. Every attempt is a row of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from infra.notify.outcome import AttemptOutcome

Connection = psycopg.Connection[TupleRow]
Channel = Literal["webhook", "email"]
DeliveryStatus = Literal["pending", "delivering", "succeeded", "failed", "dead"]

_TABLES: dict[Channel, tuple[str, str]] = {
    "webhook": ("webhook_deliveries", "webhook_attempts"),
    "email": ("email_deliveries", "email_attempts"),
}
INTERRUPTED = "interrupted: the worker stopped during this attempt"


# Endpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    id: UUID
    owner_id: UUID
    url: str
    levels: tuple[int, ...]
    is_active: bool
    created_at: datetime


_ENDPOINT_COLUMNS = "id, owner_id, url, levels, is_active, created_at"


def _endpoint(row: TupleRow) -> Endpoint:
    return Endpoint(
        id=row[0],
        owner_id=row[1],
        url=row[2],
        levels=tuple(sorted(row[3])),
        is_active=row[4],
        created_at=row[5],
    )


def create_endpoint(
    conn: Connection,
    *,
    owner_id: UUID,
    url: str,
    levels: Sequence[int],
    secret_ciphertext: bytes,
    secret_key_id: str,
) -> Endpoint:
    row = conn.execute(
        f"""
        INSERT INTO webhook_endpoints (owner_id, url, levels, secret_ciphertext, secret_key_id,
                                       min_level)
        VALUES (%s, %s, %s::smallint[], %s, %s, %s)
        RETURNING {_ENDPOINT_COLUMNS}
        """,  # noqa: S608 - the column list is a constant
        (owner_id, url, sorted(set(levels)), secret_ciphertext, secret_key_id, min(levels)),
    ).fetchone()
    assert row is not None
    return _endpoint(row)


def list_endpoints(conn: Connection, owner_id: UUID) -> list[Endpoint]:
    rows = conn.execute(
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE owner_id = %s "  # noqa: S608
        "ORDER BY created_at, id",
        (owner_id,),
    ).fetchall()
    return [_endpoint(row) for row in rows]


def delete_endpoint(conn: Connection, owner_id: UUID, endpoint_id: UUID) -> bool:
    """Delete the owner's endpoint (its deliveries go with it); False if not theirs."""
    cur = conn.execute(
        "DELETE FROM webhook_endpoints WHERE id = %s AND owner_id = %s", (endpoint_id, owner_id)
    )
    return cur.rowcount > 0


# Queueing -------------------------------------------------------------------------------


def queue_breach_webhooks(
    conn: Connection,
    *,
    account_id: str,
    level: int,
    event_id: str,
    payload: Mapping[str, Any],
    owner_id: UUID | None = None,
) -> int:
    """One delivery per active endpoint of the account's owner that takes ``level``.

    A repeated ``event_id`` queues nothing (the (endpoint, event) key). ``owner_id``
    narrows to one owner (a re-send by that owner). Returns the deliveries queued.
    """
    rows = conn.execute(
        """
        INSERT INTO webhook_deliveries (endpoint_id, event_type, event_id, payload, message_id)
        SELECT e.id, %s, %s, %s, 'msg_' || replace(gen_random_uuid()::text, '-', '')
        FROM accounts a
        JOIN webhook_endpoints e ON e.owner_id = a.owner_id
        WHERE a.account_id = %s
          AND (%s::uuid IS NULL OR a.owner_id = %s::uuid)
          AND e.is_active
          AND %s = ANY (e.levels)
          AND (e.account_id IS NULL OR e.account_id = a.account_id)
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        RETURNING id
        """,
        (
            payload.get("type", "breach"),
            event_id,
            Jsonb(dict(payload)),
            account_id,
            owner_id,
            owner_id,
            level,
        ),
    ).fetchall()
    return len(rows)


def queue_breach_emails(
    conn: Connection, *, account_id: str, event_id: str, payload: Mapping[str, Any]
) -> int:
    """One e-mail to the account's owner if they opted in; a repeated event queues nothing."""
    rows = conn.execute(
        """
        INSERT INTO email_deliveries (user_id, to_address, event_type, event_id, payload)
        SELECT u.id, u.email, %s, %s, %s
        FROM accounts a
        JOIN users u ON u.id = a.owner_id
        WHERE a.account_id = %s AND u.email_alerts AND u.is_active
        ON CONFLICT (user_id, event_id) DO NOTHING
        RETURNING id
        """,
        (payload.get("type", "breach"), event_id, Jsonb(dict(payload)), account_id),
    ).fetchall()
    return len(rows)


@dataclass(frozen=True)
class StoredBreachEvent:
    """A stored breach as the contract's breach event (a JSON-ready dict) and its owner."""

    owner_id: UUID | None
    account_id: str
    level: int
    event: dict[str, Any]


def owned_breach(conn: Connection, owner_id: UUID, breach_id: str) -> StoredBreachEvent | None:
    """The stored breach if its account belongs to ``owner_id`` (None otherwise)."""
    row = conn.execute(
        """
        SELECT b.breach_id, b.account_id, b.rule, b.level, b.ts, b.value, b.limit_value,
               b.threshold, b.message, a.owner_id
        FROM breaches b JOIN accounts a ON a.account_id = b.account_id
        WHERE b.breach_id = %s AND a.owner_id = %s
        """,
        (breach_id, owner_id),
    ).fetchone()
    if row is None:
        return None
    event: dict[str, Any] = {
        "type": "breach",
        "breach_id": row[0],
        "account_id": row[1],
        "rule": row[2],
        "level": row[3],
        "ts": row[4].isoformat().replace("+00:00", "Z"),
        "value": row[5],
        "limit": row[6],
        "message": row[8],
    }
    if row[7] is not None:
        event["threshold"] = row[7]
    return StoredBreachEvent(owner_id=row[9], account_id=row[1], level=row[3], event=event)


def resend_event_id(breach_id: str) -> str:
    """A fresh event id for a deliberate re-send (a new message, a new ``webhook-id``)."""
    return f"{breach_id}#resend-{uuid4().hex}"


# Claiming and recording -----------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery a worker holds for one attempt (attempt number ``attempt``)."""

    channel: Channel
    id: int
    attempt: int
    event_id: str
    payload: dict[str, Any]
    # webhook: the endpoint's URL, the signing secret's ciphertext, the ``webhook-id``
    url: str | None = None
    secret_ciphertext: bytes | None = None
    message_id: str | None = None
    # email: the recipient
    to_address: str | None = None


def claim_due(
    conn: Connection, channel: Channel, *, limit: int, lease_seconds: float
) -> list[ClaimedDelivery]:
    """Take up to ``limit`` due deliveries (or ones whose lease ran out) for one attempt.

    The claim and the attempt rows commit together; rows other workers hold are skipped.
    """
    table, attempts = _TABLES[channel]
    extra = (
        sql.SQL("e.url, e.secret_ciphertext, d.message_id, NULL")
        if channel == "webhook"
        else sql.SQL("NULL, NULL, NULL, d.to_address")
    )
    join = (
        sql.SQL("JOIN webhook_endpoints e ON e.id = d.endpoint_id")
        if channel == "webhook"
        else sql.SQL("")
    )
    query = sql.SQL(
        """
        WITH due AS (
            SELECT id FROM {table}
            WHERE (status IN ('pending', 'failed') AND next_attempt_at <= now())
               OR (status = 'delivering' AND lease_expires_at <= now())
            ORDER BY next_attempt_at, id
            LIMIT %s
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE {table} AS t
            SET status = 'delivering', attempts = t.attempts + 1,
                lease_expires_at = now() + make_interval(secs => %s)
            FROM due WHERE t.id = due.id
            RETURNING t.*
        )
        SELECT d.id, d.attempts, d.event_id, d.payload, {extra}
        FROM claimed d {join}
        ORDER BY d.id
        """
    ).format(table=sql.Identifier(table), extra=extra, join=join)
    rows = conn.execute(query, (limit, lease_seconds)).fetchall()
    if not rows:
        return []
    ids = [row[0] for row in rows]
    numbers = [row[1] for row in rows]
    conn.execute(
        sql.SQL(
            "UPDATE {attempts} SET finished_at = now(), succeeded = false, error = %s "
            "WHERE delivery_id = ANY(%s) AND finished_at IS NULL"
        ).format(attempts=sql.Identifier(attempts)),
        (INTERRUPTED, ids),
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO {attempts} (delivery_id, attempt) "
            "SELECT * FROM unnest(%s::bigint[], %s::integer[])"
        ).format(attempts=sql.Identifier(attempts)),
        (ids, numbers),
    )
    return [
        ClaimedDelivery(
            channel=channel,
            id=row[0],
            attempt=row[1],
            event_id=row[2],
            payload=row[3],
            url=row[4],
            secret_ciphertext=row[5],
            message_id=row[6],
            to_address=row[7],
        )
        for row in rows
    ]


def record_outcome(
    conn: Connection,
    delivery: ClaimedDelivery,
    outcome: AttemptOutcome,
    *,
    retry_in_seconds: float | None,
) -> DeliveryStatus | None:
    """Store the attempt and the delivery's next state.

    Succeeded → ``succeeded``; failed with ``retry_in_seconds`` → ``failed``, due again
    then; failed without → ``dead``. None when the delivery is no longer this worker's
    (its lease ran out and another attempt started): the attempt is still recorded.
    """
    table, attempts = _TABLES[delivery.channel]
    conn.execute(
        sql.SQL(
            "UPDATE {attempts} SET finished_at = now(), duration_ms = %s, status_code = %s, "
            "succeeded = %s, error = %s WHERE delivery_id = %s AND attempt = %s"
        ).format(attempts=sql.Identifier(attempts)),
        (
            outcome.duration_ms,
            outcome.status_code,
            outcome.succeeded,
            outcome.error,
            delivery.id,
            delivery.attempt,
        ),
    )
    status: DeliveryStatus
    if outcome.succeeded:
        status = "succeeded"
    elif retry_in_seconds is not None:
        status = "failed"
    else:
        status = "dead"
    row = conn.execute(
        sql.SQL(
            """
            UPDATE {table}
            SET status = %s,
                next_attempt_at = CASE WHEN %s::double precision IS NULL THEN next_attempt_at
                                       ELSE now() + make_interval(secs => %s) END,
                lease_expires_at = NULL,
                last_status_code = %s,
                last_error = %s,
                delivered_at = CASE WHEN %s THEN now() ELSE delivered_at END
            WHERE id = %s AND attempts = %s AND status = 'delivering'
            RETURNING status
            """
        ).format(table=sql.Identifier(table)),
        (
            status,
            retry_in_seconds,
            retry_in_seconds,
            outcome.status_code,
            outcome.error,
            outcome.succeeded,
            delivery.id,
            delivery.attempt,
        ),
    ).fetchone()
    return status if row is not None else None


@dataclass(frozen=True)
class DeliveryState:
    id: int
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None


def delivery_states(conn: Connection, channel: Channel, event_id: str) -> list[DeliveryState]:
    """The deliveries of one event on one channel (for tests, tools and the API)."""
    table, _ = _TABLES[channel]
    rows = conn.execute(
        sql.SQL(
            "SELECT id, status, attempts, last_status_code, last_error FROM {table} "
            "WHERE event_id = %s ORDER BY id"
        ).format(table=sql.Identifier(table)),
        (event_id,),
    ).fetchall()
    return [DeliveryState(*row) for row in rows]


# The worker's position on the breach topic ----------------------------------------------


def load_offsets(conn: Connection, consumer: str, topic: str) -> dict[int, int]:
    rows = conn.execute(
        "SELECT partition, next_offset FROM notify_offsets WHERE consumer = %s AND topic = %s",
        (consumer, topic),
    ).fetchall()
    return {int(row[0]): int(row[1]) for row in rows}


def save_offsets(conn: Connection, consumer: str, topic: str, offsets: Mapping[int, int]) -> None:
    """Record the next offset to read per partition (never moving one backwards)."""
    if not offsets:
        return
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO notify_offsets AS o (consumer, topic, partition, next_offset)
            VALUES (%s, %s, %s, %s)
            ON CONFLICT (consumer, topic, partition) DO UPDATE
            SET next_offset = greatest(o.next_offset, EXCLUDED.next_offset), updated_at = now()
            """,
            [(consumer, topic, partition, offset) for partition, offset in offsets.items()],
        )


# What the settings page shows -----------------------------------------------------------


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    status_code: int | None
    succeeded: bool | None
    error: str | None


@dataclass(frozen=True)
class DeliveryRecord:
    """One message to an endpoint with every attempt made so far (oldest attempt first)."""

    id: int
    event_type: str
    event_id: str
    message_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    tries: tuple[AttemptRecord, ...]


def endpoint_deliveries(
    conn: Connection, owner_id: UUID, endpoint_id: UUID, *, limit: int
) -> list[DeliveryRecord] | None:
    """The endpoint's newest deliveries and their attempts; None if the endpoint is not
    the owner's."""
    owned = conn.execute(
        "SELECT 1 FROM webhook_endpoints WHERE id = %s AND owner_id = %s", (endpoint_id, owner_id)
    ).fetchone()
    if owned is None:
        return None
    rows = conn.execute(
        """
        SELECT id, event_type, event_id, message_id, status, attempts, next_attempt_at,
               created_at, delivered_at, last_status_code, last_error
        FROM webhook_deliveries
        WHERE endpoint_id = %s
        ORDER BY created_at DESC, id DESC
        LIMIT %s
        """,
        (endpoint_id, limit),
    ).fetchall()
    ids = [row[0] for row in rows]
    tries: dict[int, list[AttemptRecord]] = {delivery: [] for delivery in ids}
    for row in conn.execute(
        """
        SELECT delivery_id, attempt, started_at, finished_at, duration_ms, status_code,
               succeeded, error
        FROM webhook_attempts WHERE delivery_id = ANY (%s)
        ORDER BY delivery_id, attempt
        """,
        (ids,),
    ).fetchall():
        tries[row[0]].append(AttemptRecord(*row[1:]))
    return [
        DeliveryRecord(
            id=row[0],
            event_type=row[1],
            event_id=row[2],
            message_id=row[3],
            status=row[4],
            attempts=row[5],
            next_attempt_at=row[6],
            created_at=row[7],
            delivered_at=row[8],
            last_status_code=row[9],
            last_error=row[10],
            tries=tuple(tries[row[0]]),
        )
        for row in rows
    ]


def queue_ping(conn: Connection, owner_id: UUID, endpoint_id: UUID, at: datetime) -> str | None:
    """Queue a signed ``ping`` message to the owner's endpoint (whatever its levels);
    returns its ``webhook-id``, or None if the endpoint is not the owner's."""
    event_id = f"ping-{uuid4().hex}"
    row = conn.execute(
        """
        INSERT INTO webhook_deliveries (endpoint_id, event_type, event_id, payload, message_id)
        SELECT e.id, 'ping', %s, %s, 'msg_' || replace(gen_random_uuid()::text, '-', '')
        FROM webhook_endpoints e
        WHERE e.id = %s AND e.owner_id = %s
        RETURNING message_id
        """,
        (
            event_id,
            Jsonb({"type": "ping", "data": {"endpoint_id": str(endpoint_id), "ts": _iso(at)}}),
            endpoint_id,
            owner_id,
        ),
    ).fetchone()
    return None if row is None else str(row[0])


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def endpoint_secrets(conn: Connection) -> list[tuple[UUID, bytes, str]]:
    """Every endpoint's id, secret ciphertext and key id (``aetheris secrets rotate``)."""
    rows = conn.execute(
        "SELECT id, secret_ciphertext, secret_key_id FROM webhook_endpoints ORDER BY id"
    ).fetchall()
    return [(row[0], bytes(row[1]), row[2]) for row in rows]


def replace_endpoint_secret(
    conn: Connection, endpoint_id: UUID, old: bytes, new: bytes, key_id: str
) -> bool:
    """Store a re-encrypted secret unless the row changed meanwhile."""
    cur = conn.execute(
        "UPDATE webhook_endpoints SET secret_ciphertext = %s, secret_key_id = %s "
        "WHERE id = %s AND secret_ciphertext = %s",
        (new, key_id, endpoint_id, old),
    )
    return cur.rowcount == 1
