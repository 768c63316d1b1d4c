"""The signed-in user's webhook endpoints (``/api/v1/webhooks``): register (SSRF-checked;
the secret is shown once), list, delete, each endpoint's deliveries and attempts, and a
signed test ping."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import NOT_FOUND, CurrentUser, Services
from api.services import ApiServices
from api.webhooks import InvalidWebhook, NotFound, WebhookService

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}, 503: {}}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=8, max_length=2_048, description="an http(s) URL")
    levels: list[Annotated[int, Field(strict=True, ge=1, le=3)]] | None = Field(
        default=None, min_length=1, max_length=3, description="breach levels to receive"
    )


class WebhookCreated(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    secret: str = Field(description="whsec_...: shown only now; verify signatures with it")


class Webhook(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    url: str
    levels: list[int]
    is_active: bool
    created_at: datetime


class Attempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    attempt: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    status_code: int | None
    succeeded: bool | None
    error: str | None


class Delivery(BaseModel):
    """One message to the endpoint and every attempt to deliver it."""

    model_config = ConfigDict(frozen=True)

    id: int
    type: str
    event_id: str
    webhook_id: str = Field(description="the webhook-id header of every try")
    status: str
    attempts: list[Attempt]
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


class Ping(BaseModel):
    model_config = ConfigDict(frozen=True)

    webhook_id: str = Field(description="the webhook-id the test message will carry")


def _service(services: ApiServices) -> WebhookService:
    if services.webhooks is None:
        raise HTTPException(503, "webhooks are not configured on this server")
    return services.webhooks


@router.post("", status_code=201, responses=RESPONSES)
def register(body: WebhookCreate, user: CurrentUser, services: Services) -> WebhookCreated:
    """Refused (422, with the reason) when the URL's host resolves to a loopback, private,
    link-local or otherwise non-public address outside the allowed networks."""
    try:
        created = _service(services).register_webhook(user.id, body.url, body.levels)
    except InvalidWebhook as exc:
        raise HTTPException(422, str(exc)) from None
    return WebhookCreated(id=created.id, secret=created.secret)


@router.get("", responses=RESPONSES)
def list_webhooks(user: CurrentUser, services: Services) -> list[Webhook]:
    return [
        Webhook(
            id=w.id,
            url=w.url,
            levels=list(w.levels),
            is_active=w.is_active,
            created_at=w.created_at,
        )
        for w in _service(services).list_webhooks(user.id)
    ]


@router.delete("/{webhook_id}", status_code=204, responses=RESPONSES)
def delete(webhook_id: UUID, user: CurrentUser, services: Services) -> Response:
    """Delete the endpoint and its queued deliveries."""
    try:
        _service(services).delete_webhook(user.id, webhook_id)
    except NotFound:
        raise HTTPException(404, NOT_FOUND) from None
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", responses=RESPONSES)
def deliveries(
    webhook_id: UUID,
    user: CurrentUser,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[Delivery]:
    """The endpoint's newest deliveries, each with its attempts (status code, error, time)."""
    try:
        found = _service(services).deliveries(user.id, webhook_id, limit)
    except NotFound:
        raise HTTPException(404, NOT_FOUND) from None
    return [
        Delivery(
            id=d.id,
            type=d.event_type,
            event_id=d.event_id,
            webhook_id=d.message_id,
            status=d.status,
            attempts=[Attempt(**vars(a)) for a in d.tries],
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )
        for d in found
    ]


@router.post("/{webhook_id}/ping", status_code=202, responses=RESPONSES)
def ping(webhook_id: UUID, user: CurrentUser, services: Services) -> Ping:
    """Queue a signed ``{"type": "ping", ...}`` message to the endpoint; the notify worker
    sends it like an alert, and its attempts show under ``deliveries``."""
    try:
        return Ping(webhook_id=_service(services).ping(user.id, webhook_id, services.clock()))
    except NotFound:
        raise HTTPException(404, NOT_FOUND) from None
