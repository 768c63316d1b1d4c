"""Webhook endpoints as the routes use them: register, list, delete, re-send an alert.

No FastAPI here: the routes (``POST/GET/DELETE /api/v1/webhooks``, ``POST
/alerts/{id}/resend``) call these with the current user's id. Every call is scoped to
that owner: another owner's endpoint or breach is :class:`NotFound`, never a hint that
it exists. A URL the SSRF guard refuses is :class:`InvalidWebhook` (a 422).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from infra.db.pool import Pool
from infra.notify import repository as repo
from infra.notify.cipher import KEY_ID, SecretCipher
from infra.notify.repository import DeliveryRecord
from infra.notify.signing import new_secret
from infra.notify.ssrf import IPNetwork, Resolver, UnsafeUrlError, check_url

MAX_ENDPOINTS_PER_OWNER = 20
LEVELS = (1, 2, 3)


class InvalidWebhook(ValueError):
    """The request cannot be accepted as it is (HTTP 422); the message says why."""


class NotFound(LookupError):
    """No such endpoint or breach for this owner (HTTP 404)."""


@dataclass(frozen=True)
class RegisteredWebhook:
    """A new endpoint and its signing secret (shown once: only ciphertext is stored)."""

    id: UUID
    secret: str


@dataclass(frozen=True)
class WebhookView:
    id: UUID
    url: str
    levels: tuple[int, ...]
    is_active: bool
    created_at: datetime


class WebhookService:
    """The webhook use cases over the database, the secret cipher and the SSRF guard."""

    def __init__(
        self,
        pool: Pool,
        *,
        cipher: SecretCipher,
        resolver: Resolver,
        allowed_networks: Sequence[IPNetwork] = (),
        key_id: str = KEY_ID,
    ) -> None:
        self._pool = pool
        self._cipher = cipher
        self._key_id = key_id
        self._resolver = resolver
        self._allowed = tuple(allowed_networks)

    def register_webhook(
        self, owner_id: UUID, url: str, levels: Sequence[int] | None = None
    ) -> RegisteredWebhook:
        """Check the URL (SSRF guard) and the levels, store the endpoint, return its secret."""
        chosen = LEVELS if levels is None else tuple(levels)
        if not chosen:
            raise InvalidWebhook("levels: choose at least one of 1, 2, 3")
        bad = [level for level in chosen if type(level) is not int or level not in LEVELS]
        if bad:
            raise InvalidWebhook(f"levels: {bad[0]!r} is not a breach level (1, 2 or 3)")
        try:
            check_url(url, self._resolver, self._allowed)
        except UnsafeUrlError as exc:
            raise InvalidWebhook(f"url: {exc}") from None
        secret = new_secret()
        with self._pool.connection() as conn, conn.transaction():
            # One owner's registrations are serialised, so the cap cannot be raced past.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s::text))", (str(owner_id),))
            count = conn.execute(
                "SELECT count(*) FROM webhook_endpoints WHERE owner_id = %s", (owner_id,)
            ).fetchone()
            if count is not None and count[0] >= MAX_ENDPOINTS_PER_OWNER:
                raise InvalidWebhook(
                    f"at most {MAX_ENDPOINTS_PER_OWNER} webhooks per user; delete one first"
                )
            endpoint = repo.create_endpoint(
                conn,
                owner_id=owner_id,
                url=url,
                levels=chosen,
                secret_ciphertext=self._cipher.encrypt(secret.encode("ascii")),
                secret_key_id=self._key_id,
            )
        return RegisteredWebhook(id=endpoint.id, secret=secret)

    def list_webhooks(self, owner_id: UUID) -> list[WebhookView]:
        with self._pool.connection() as conn:
            endpoints = repo.list_endpoints(conn, owner_id)
        return [WebhookView(e.id, e.url, e.levels, e.is_active, e.created_at) for e in endpoints]

    def delete_webhook(self, owner_id: UUID, webhook_id: UUID) -> None:
        with self._pool.connection() as conn, conn.transaction():
            if not repo.delete_endpoint(conn, owner_id, webhook_id):
                raise NotFound(f"webhook {webhook_id} not found")

    def resend_alert(self, owner_id: UUID, breach_id: str) -> int:
        """Queue a stored level-3 breach again to the owner's endpoints that take level 3
        (a new message with a new ``webhook-id``); returns how many were queued."""
        with self._pool.connection() as conn, conn.transaction():
            stored = repo.owned_breach(conn, owner_id, breach_id)
            if stored is None:
                raise NotFound(f"alert {breach_id} not found")
            if stored.level != 3:
                raise InvalidWebhook("only a level-3 alert can be re-sent")
            return repo.queue_breach_webhooks(
                conn,
                account_id=stored.account_id,
                level=stored.level,
                event_id=repo.resend_event_id(breach_id),
                payload={"type": "breach", "data": stored.event},
                owner_id=owner_id,
            )

    def deliveries(self, owner_id: UUID, webhook_id: UUID, limit: int) -> list[DeliveryRecord]:
        """The endpoint's newest deliveries with every attempt (the settings page)."""
        with self._pool.connection() as conn:
            found = repo.endpoint_deliveries(conn, owner_id, webhook_id, limit=limit)
        if found is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return found

    def ping(self, owner_id: UUID, webhook_id: UUID, at: datetime) -> str:
        """Queue a signed test message to the endpoint; returns its ``webhook-id``."""
        with self._pool.connection() as conn, conn.transaction():
            message_id = repo.queue_ping(conn, owner_id, webhook_id, at)
        if message_id is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return message_id
