"""Trades of the signed-in user's accounts (``/api/v1/trades``): list with filters and a
cursor, add by hand (stored and published as a trade event), journal edits (notes, tags,
emotion and bias tags), deletion of trades added by hand."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import ValidationError

from api.deps import EARLIEST, LATEST, NOT_FOUND, CurrentUser, Services, timestamp
from api.ports import PublishError
from schemas import TradeEvent
from schemas.api import (
    ID_PATTERN,
    ISO_TIMESTAMP,
    PRINTABLE,
    TRADE_ID_PATTERN,
    Emotion,
    TradeCreate,
    TradeFilter,
    TradePage,
    TradeUpdate,
    TradeView,
    decode_cursor,
    parse_trade_id,
)

router = APIRouter(prefix="/api/v1/trades", tags=["trades"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}}

TradeIdPath = Annotated[str, Path(pattern=TRADE_ID_PATTERN, description="a trade's id")]


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    found = decode_cursor(cursor)
    if found is None:
        raise HTTPException(422, "cursor: not a cursor this API gave out")
    return found


@router.get("", responses=RESPONSES)
def list_trades(
    *,
    user: CurrentUser,
    services: Services,
    account_id: Annotated[str, Query(pattern=ID_PATTERN)],
    status: Literal["open", "closed"] | None = None,
    symbol: Annotated[str | None, Query(min_length=1, max_length=64, pattern=PRINTABLE)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=40, pattern=PRINTABLE)] = None,
    emotion: Emotion | None = None,
    since: Annotated[str | None, Query(alias="from", pattern=ISO_TIMESTAMP)] = None,
    until: Annotated[str | None, Query(alias="to", pattern=ISO_TIMESTAMP)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1_000, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> TradePage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    if services.accounts.get(user.id, account_id) is None:
        raise HTTPException(404, NOT_FOUND)
    where = TradeFilter(
        account_id=account_id,
        status=status,
        symbol=symbol,
        tag=tag,
        emotion=emotion,
        since=None if since is None else timestamp("from", since, EARLIEST),
        until=None if until is None else timestamp("to", until, LATEST),
    )
    after = None if cursor is None else _decode_cursor(cursor)
    return services.trades.page(user.id, where, after, limit)


@router.post("", status_code=201, responses={**RESPONSES, 409: {}, 503: {}})
def add_trade(body: TradeCreate, user: CurrentUser, services: Services) -> TradeView:
    if services.accounts.get(user.id, body.account_id) is None:
        raise HTTPException(404, NOT_FOUND)
    fields = body.model_dump(exclude={"emotions"})
    fields["broker_trade_id"] = body.broker_trade_id or f"manual-{secrets.token_hex(8)}"
    fields["tags"] = tuple(sorted(set(body.tags)))
    try:
        trade = TradeEvent.model_validate(fields, strict=False)
    except ValidationError as exc:
        reasons = "; ".join(error["msg"] for error in exc.errors(include_url=False))
        raise HTTPException(422, f"not a valid trade: {reasons}") from None
    if services.trades.get(user.id, trade.account_id, trade.broker_trade_id) is not None:
        raise HTTPException(409, "the account already has a trade with this broker_trade_id")
    try:
        services.events.publish(trade)
    except PublishError:
        raise HTTPException(503, "the event bus did not take the trade; try again") from None
    stored = services.trades.add_manual(user.id, trade, body.emotions)
    if stored is None:
        raise HTTPException(409, "the account already has a trade with this broker_trade_id")
    return stored


def _key(trade_id: str) -> tuple[str, str]:
    key = parse_trade_id(trade_id)
    if key is None:
        raise HTTPException(404, NOT_FOUND)
    return key


@router.get("/{trade_id}", responses=RESPONSES)
def get_trade(trade_id: TradeIdPath, user: CurrentUser, services: Services) -> TradeView:
    found = services.trades.get(user.id, *_key(trade_id))
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return found


@router.put("/{trade_id}", responses=RESPONSES)
def update_trade(
    trade_id: TradeIdPath, body: TradeUpdate, user: CurrentUser, services: Services
) -> TradeView:
    account_id, broker_trade_id = _key(trade_id)
    updated = services.trades.annotate(
        user.id,
        account_id,
        broker_trade_id,
        notes=body.notes,
        tags=body.tags,
        emotions=body.emotions,
    )
    if updated is None:
        raise HTTPException(404, NOT_FOUND)
    return updated


@router.delete("/{trade_id}", status_code=204, responses={**RESPONSES, 409: {}})
def delete_trade(trade_id: TradeIdPath, user: CurrentUser, services: Services) -> Response:
    """Only trades added by hand can be deleted; a broker's trades are its record."""
    account_id, broker_trade_id = _key(trade_id)
    found = services.trades.get(user.id, account_id, broker_trade_id)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    if not found.manual:
        raise HTTPException(409, "only trades added by hand can be deleted")
    if not services.trades.delete_manual(user.id, account_id, broker_trade_id):
        raise HTTPException(404, NOT_FOUND)
    return Response(status_code=204)
