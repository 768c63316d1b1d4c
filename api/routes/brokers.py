"""Broker connections of an account and its MetaTrader bridge key (owner-checked), and the
bridge's signed ingest route (``POST /api/v1/bridge/metatrader``, no bearer token: the
batch's HMAC signature is its credential)."""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from api.bridgeauth import BridgeAuthError, check_timestamp, new_bridge_key, verify
from api.brokerports import BridgeRejected, BrokerServices
from api.deps import CurrentUser, OwnedAccount, Services
from api.services import ApiServices
from infra.db.brokers import ConnectionExists
from schemas.api import ID_PATTERN
from schemas.brokers import BridgeAccepted, BridgeKeyIssued, ConnectionCreate, ConnectionView

_log = logging.getLogger("aetheris.api.bridge")

router = APIRouter(prefix="/api/v1/accounts", tags=["brokers"])
bridge = APIRouter(prefix="/api/v1/bridge", tags=["bridge"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}, 503: {}}


def broker_services(services: ApiServices) -> BrokerServices:
    if services.brokers is None:
        raise HTTPException(503, "broker connections are not set up on this server")
    return services.brokers


@router.post("/{account_id}/brokers", status_code=201, responses={**RESPONSES, 409: {}})
def create_connection(
    body: ConnectionCreate, account: OwnedAccount, user: CurrentUser, services: Services
) -> ConnectionView:
    """Store a connection; its ``credentials`` are encrypted and never shown again."""
    brokers = broker_services(services)
    try:
        return brokers.connections.create(user.id, account.id, body)
    except ConnectionExists as exc:
        raise HTTPException(409, str(exc)) from None
    except LookupError:
        raise HTTPException(404, "not found") from None


@router.get("/{account_id}/brokers", responses=RESPONSES)
def list_connections(
    account: OwnedAccount, user: CurrentUser, services: Services
) -> list[ConnectionView]:
    """Kind, label, settings, sync status, last sync and error; never the secret."""
    return broker_services(services).connections.for_account(user.id, account.id)


@router.delete("/{account_id}/brokers/{connection_id}", status_code=204, responses=RESPONSES)
def delete_connection(
    connection_id: UUID, account: OwnedAccount, user: CurrentUser, services: Services
) -> Response:
    if not broker_services(services).connections.delete(user.id, account.id, connection_id):
        raise HTTPException(404, "not found")
    return Response(status_code=204)


@router.post("/{account_id}/bridge-key", status_code=201, responses=RESPONSES)
def issue_bridge_key(account: OwnedAccount, services: Services) -> BridgeKeyIssued:
    """A new MetaTrader bridge key for the account, shown this once; the old one stops
    working at once (this is also how a key is rotated)."""
    key = new_bridge_key()
    created = broker_services(services).bridge.issue_key(account.id, key)
    return BridgeKeyIssued(account_id=account.id, key=key, created_at=created)


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "AetherisBridge"})


@bridge.post(
    "/metatrader",
    responses={400: {}, 401: {}, 409: {}, 413: {}, 422: {}, 503: {}},
)
async def metatrader_batch(
    request: Request,
    services: Services,
    x_aetheris_account: Annotated[str | None, Header(max_length=128)] = None,
    x_aetheris_timestamp: Annotated[str | None, Header(max_length=16)] = None,
    x_aetheris_signature: Annotated[str | None, Header(max_length=128)] = None,
) -> BridgeAccepted:
    """A signed batch of deals and equity snapshots from ``AetherisBridge.mq5``.

    401: unsigned, wrong key, another account's key, or a timestamp outside the window;
    409: the batch id was accepted already (replayed); 413: larger than the cap.
    """
    brokers = broker_services(services)
    body = await _bounded_body(request, brokers.bridge_max_body_bytes)
    now = services.clock()
    account_id = x_aetheris_account or ""
    if not re.fullmatch(ID_PATTERN, account_id):
        raise _unauthorised("X-Aetheris-Account must name the account")
    try:
        check_timestamp(x_aetheris_timestamp, now, brokers.bridge_window_seconds)
        assert x_aetheris_timestamp is not None
        key = await run_in_threadpool(brokers.bridge.key, account_id)
        verify(key, x_aetheris_timestamp, body, x_aetheris_signature)
    except BridgeAuthError as exc:
        _log.info("bridge batch for %s refused: %s", account_id, exc)
        raise _unauthorised(str(exc)) from None
    batch_id = _batch_id(body)
    remembered = await run_in_threadpool(
        brokers.bridge.remember_batch, account_id, batch_id, now, brokers.bridge_window_seconds
    )
    if not remembered:
        raise HTTPException(409, f"batch {batch_id!r} was accepted already (a replay)")
    try:
        accepted = await run_in_threadpool(brokers.ingest.ingest, account_id, body, now)
    except BridgeRejected as exc:
        await run_in_threadpool(brokers.bridge.forget_batch, account_id, batch_id)
        raise HTTPException(exc.status, exc.detail) from None
    except Exception:
        await run_in_threadpool(brokers.bridge.forget_batch, account_id, batch_id)
        raise
    await run_in_threadpool(
        brokers.bridge.link_sync_log, account_id, batch_id, accepted.sync_log_id
    )
    return accepted


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the batch is larger than {limit} bytes: send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                413, f"the batch is larger than {limit} bytes: send smaller batches"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _batch_id(body: bytes) -> str:
    """The batch id, read before the full parse (the signature has been checked)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HTTPException(422, "the body is not JSON") from None
    batch_id = data.get("batch_id") if isinstance(data, dict) else None
    if not isinstance(batch_id, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{8,128}", batch_id):
        raise HTTPException(422, "batch_id: 8-128 letters, digits or _.:- are required")
    return batch_id
