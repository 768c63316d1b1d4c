"""Stored breaches of the signed-in user's accounts (``/api/v1/alerts``): filtered and
paged newest first, dismissed, and a level-3 alert re-sent to the user's webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict

from api.deps import NOT_FOUND, CurrentUser, Services
from api.params import IsoTime
from api.ports import Alerts, StoredAlert
from api.services import ApiServices
from api.webhooks import InvalidWebhook, NotFound, WebhookService
from infra.db.alerts import AlertQuery, AlertRow
from schemas import BreachEvent
from schemas.api import ID_PATTERN, decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}, 503: {}}
BREACH_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@#-]{0,199}$"
RuleName = Literal[
    "max_daily_loss", "max_loss", "trailing_drawdown", "max_loss_per_trade", "overtrading", "tilt"
]
BreachIdPath = Annotated[str, Path(pattern=BREACH_ID_PATTERN, description="a breach id")]


class AlertPage(BaseModel):
    """One page of alerts; pass ``next_cursor`` back as ``cursor`` for the next (None: the
    last page)."""

    model_config = ConfigDict(frozen=True)

    items: list[StoredAlert]
    next_cursor: str | None


class Resent(BaseModel):
    model_config = ConfigDict(frozen=True)

    queued: int


def _alerts(services: ApiServices) -> Alerts:
    if services.alerts is None:
        raise HTTPException(503, "no database configured")
    return services.alerts


def _webhooks(services: ApiServices) -> WebhookService:
    if services.webhooks is None:
        raise HTTPException(503, "webhooks are not configured on this server")
    return services.webhooks


def _stored(row: AlertRow) -> StoredAlert:
    return StoredAlert(
        breach=BreachEvent(
            breach_id=row.breach_id,
            account_id=row.account_id,
            rule=row.rule,  # type: ignore[arg-type]
            level=row.level,  # type: ignore[arg-type]
            ts=row.ts,
            value=float(row.value),
            limit=float(row.limit),
            threshold=None if row.threshold is None else float(row.threshold),
            message=row.message,
        ),
        dismissed=row.dismissed_at is not None,
        dismissed_at=row.dismissed_at,
    )


@router.get("", responses=RESPONSES)
def list_alerts(
    *,
    user: CurrentUser,
    services: Services,
    account_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    level: Annotated[int | None, Query(ge=1, le=3)] = None,
    rule: RuleName | None = None,
    dismissed: bool | None = None,
    since: Annotated[IsoTime | None, Query(alias="from")] = None,
    until: Annotated[IsoTime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1_000, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> AlertPage:
    """Newest first. ``from`` (included) and ``to`` (excluded) bound the breach time."""
    store = _alerts(services)
    if account_id is not None and services.accounts.get(user.id, account_id) is None:
        raise HTTPException(404, NOT_FOUND)
    after: tuple[datetime, str] | None = None
    if cursor is not None:
        after = decode_cursor(cursor)
        if after is None:
            raise HTTPException(422, "cursor: not a cursor this API gave out")
    rows = store.page(
        user.id,
        AlertQuery(
            account_ids=None if account_id is None else [account_id],
            levels=None if level is None else [level],
            rules=None if rule is None else [rule],
            dismissed=dismissed,
            since=since,
            until=until,
            after=after,
            limit=limit + 1,
        ),
    )
    page = rows[:limit]
    more = len(rows) > limit
    return AlertPage(
        items=[_stored(row) for row in page],
        next_cursor=encode_cursor(page[-1].ts, page[-1].breach_id) if more else None,
    )


@router.post("/{breach_id}/dismiss", status_code=204, responses=RESPONSES)
def dismiss(breach_id: BreachIdPath, user: CurrentUser, services: Services) -> Response:
    """Mark the alert seen; dismissing it again changes nothing (still 204)."""
    if not _alerts(services).dismiss(user.id, breach_id, services.clock()):
        raise HTTPException(404, NOT_FOUND)
    return Response(status_code=204)


@router.post("/{breach_id}/resend", status_code=202, responses=RESPONSES)
def resend(breach_id: BreachIdPath, user: CurrentUser, services: Services) -> Resent:
    """Queue a level-3 alert again to the user's webhooks that take level 3 (a new message
    with a new ``webhook-id``); ``queued`` is how many endpoints will get it."""
    try:
        return Resent(queued=_webhooks(services).resend_alert(user.id, breach_id))
    except NotFound:
        raise HTTPException(404, NOT_FOUND) from None
    except InvalidWebhook as exc:
        raise HTTPException(422, str(exc)) from None
