"""WebSocket tickets and session revocations, on Redis and in-process.

A ticket is a random string handed to a signed-in user (``POST /api/v1/realtime/ticket``)
and spent by the first WebSocket message that presents it. Redis keeps only its SHA-256
under ``{prefix}:ws-ticket:{digest}`` with an expiry, and spends it with ``GETDEL``, so
it works once across every API process. Revocations go out on ``{prefix}:revoked``
(:func:`infra.live.feed.revocation_channel`) so each process closes the sockets of a
session that ended.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import redis

from infra.live.feed import InMemoryFeed, revocation_channel
from infra.live.port import LiveError
from infra.live.redis_store import where

TICKET_BYTES = 32


@dataclass(frozen=True)
class TicketHolder:
    """Whom a ticket was issued to: the user and the login session."""

    user_id: UUID
    session_id: UUID


def ticket_key(prefix: str, ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode("utf-8")).hexdigest()
    return f"{prefix}:ws-ticket:{digest}"


def _holder_value(holder: TicketHolder) -> str:
    return f"{holder.user_id}:{holder.session_id}"


def _holder(value: str) -> TicketHolder | None:
    user, _, session = value.partition(":")
    try:
        return TicketHolder(UUID(user), UUID(session))
    except ValueError:
        return None


def session_subject(session_id: UUID) -> str:
    return f"session:{session_id}"


def user_subject(user_id: UUID) -> str:
    return f"user:{user_id}"


class RedisTickets:
    """Tickets in Redis: set with an expiry, spent with GETDEL (atomic: once, anywhere)."""

    def __init__(self, client: redis.Redis[bytes], prefix: str, lifetime_seconds: int) -> None:
        self._client = client
        self._prefix = prefix
        self.lifetime_seconds = lifetime_seconds

    def issue(self, holder: TicketHolder) -> str:
        ticket = secrets.token_urlsafe(TICKET_BYTES)
        try:
            self._client.set(
                ticket_key(self._prefix, ticket), _holder_value(holder), ex=self.lifetime_seconds
            )
        except (redis.RedisError, OSError) as exc:
            raise LiveError(f"Redis at {where(self._client)}: {type(exc).__name__}") from None
        return ticket

    def redeem(self, ticket: str) -> TicketHolder | None:
        try:
            value = self._client.getdel(ticket_key(self._prefix, ticket))
        except (redis.RedisError, OSError) as exc:
            raise LiveError(f"Redis at {where(self._client)}: {type(exc).__name__}") from None
        return None if value is None else _holder(value.decode("utf-8"))


class InMemoryTickets:
    """The embedded twin: tickets in a dict, expiring by ``clock`` (monotonic seconds)."""

    def __init__(self, lifetime_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tickets: dict[str, tuple[TicketHolder, float]] = {}

    def issue(self, holder: TicketHolder) -> str:
        ticket = secrets.token_urlsafe(TICKET_BYTES)
        now = self._clock()
        with self._lock:
            for key in [k for k, (_, ends) in self._tickets.items() if ends <= now]:
                del self._tickets[key]
            self._tickets[ticket_key("", ticket)] = (holder, now + self.lifetime_seconds)
        return ticket

    def redeem(self, ticket: str) -> TicketHolder | None:
        with self._lock:
            found = self._tickets.pop(ticket_key("", ticket), None)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]


class RedisRevocations:
    """Tells every API process that a session (or all of a user's) ended."""

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self._client = client
        self._channel = revocation_channel(prefix)

    def session_ended(self, session_id: UUID) -> None:
        self._publish(session_subject(session_id))

    def user_sessions_ended(self, user_id: UUID) -> None:
        self._publish(user_subject(user_id))

    def _publish(self, subject: str) -> None:
        try:
            self._client.publish(self._channel, subject)
        except (redis.RedisError, OSError) as exc:
            # The session is revoked in the database already; sockets notice at their
            # next session check (AETHERIS_WS_SESSION_CHECK_SECONDS).
            raise LiveError(f"Redis at {where(self._client)}: {type(exc).__name__}") from None


class InMemoryRevocations:
    """The embedded twin: revocations go straight to this process's feed."""

    def __init__(self, feed: InMemoryFeed) -> None:
        self._feed = feed

    def session_ended(self, session_id: UUID) -> None:
        self._feed.revoke(session_subject(session_id))

    def user_sessions_ended(self, user_id: UUID) -> None:
        self._feed.revoke(user_subject(user_id))
