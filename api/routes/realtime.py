"""Live account streams: ``POST /api/v1/realtime/ticket`` and the WebSockets
``/ws/realtime/{account_id}`` and ``/ws/realtime`` (every account of the user).

A browser cannot put a bearer token on a WebSocket, so the client first asks for a
ticket (single use, short-lived, kept in Redis) and sends it as its first message,
``{"type": "auth", "ticket": "…"}``. Close codes: 1008 (origin not allowed, no or bad
first message, ticket unknown / expired / used, account not the user's, session ended),
1009 (first message too big), 1013 (the client did not keep up, or live data is
unavailable: reconnect), 1001 (the server is shutting down). docs/api.md has the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.deps import Claims, CurrentUser, Services
from api.hardening import origin_allowed
from api.realtime import (
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN,
    Close,
    RealtimeClient,
    RealtimeHub,
)
from api.services import ApiServices
from infra.live.feed import FeedError
from infra.live.port import LiveError
from infra.live.tickets import TicketHolder
from schemas.api import ID_PATTERN

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/realtime", tags=["live stream"])

MAX_TICKET_CHARS = 256


class Ticket(BaseModel):
    """A single-use ticket for the first message of a WebSocket, valid ``expires_in`` s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket: str
    expires_in: int


@router.post("/ticket", responses={401: {}, 429: {}, 503: {}})
def issue_ticket(claims: Claims, user: CurrentUser, services: Services) -> Ticket:
    tickets = services.tickets
    if tickets is None:
        raise HTTPException(503, "live streams are not configured on this server")
    wait = services.limiter.hit(services.limits.ticket, "ws-ticket", str(user.id))
    if wait is not None:
        raise HTTPException(
            429, "too many tickets: try again later", headers={"Retry-After": str(int(wait) + 1)}
        )
    try:
        ticket = tickets.issue(TicketHolder(user.id, claims.session_id))
    except LiveError:
        raise HTTPException(503, "live streams are unavailable right now, try again") from None
    return Ticket(ticket=ticket, expires_in=tickets.lifetime_seconds)


def install_websockets(app: FastAPI, services: ApiServices, hub: RealtimeHub) -> None:
    """The two WebSocket routes (only when the app has a realtime hub)."""

    @app.websocket("/ws/realtime/{account_id}")
    async def account_stream(socket: WebSocket, account_id: str) -> None:
        await _serve(socket, services, hub, account_id)

    @app.websocket("/ws/realtime")
    async def all_accounts_stream(socket: WebSocket) -> None:
        await _serve(socket, services, hub, None)


async def _close(socket: WebSocket, close: Close, within: float) -> None:
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
        await asyncio.wait_for(socket.close(close.code, close.reason), within)


def _ticket_of(text: str) -> str | None:
    try:
        message: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "auth":
        return None
    ticket = message.get("ticket")
    if not isinstance(ticket, str) or not 0 < len(ticket) <= MAX_TICKET_CHARS:
        return None
    return ticket


async def _first_message(socket: WebSocket, hub: RealtimeHub) -> str | Close | None:
    """The first text message; a :class:`Close` for a bad one; None if the client left."""
    limits = hub.limits
    try:
        message = await asyncio.wait_for(socket.receive(), limits.auth_timeout_seconds)
    except TimeoutError:
        return Close(CLOSE_POLICY, 'no auth message: send {"type": "auth", "ticket": …}')
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None:
        return Close(CLOSE_POLICY, "the first message must be a JSON text message")
    if len(text) > limits.max_message_bytes:
        return Close(CLOSE_TOO_BIG, "the first message is too big")
    return str(text)


async def _authenticate(
    socket: WebSocket, services: ApiServices, hub: RealtimeHub, account_id: str | None
) -> RealtimeClient | Close | None:
    first = await _first_message(socket, hub)
    if first is None or isinstance(first, Close):
        return first
    ticket = _ticket_of(first)
    if ticket is None:
        return Close(CLOSE_POLICY, 'the first message must be {"type": "auth", "ticket": "…"}')
    tickets = services.tickets
    assert tickets is not None
    try:
        holder = await run_in_threadpool(tickets.redeem, ticket)
    except LiveError:
        return Close(CLOSE_TRY_AGAIN, "tickets cannot be checked right now: try again")
    if holder is None:
        return Close(CLOSE_POLICY, "the ticket is not valid (unknown, expired or already used)")
    user = await run_in_threadpool(services.users.session_user, holder.user_id, holder.session_id)
    if user is None:
        return Close(CLOSE_POLICY, "the session has ended: sign in again")
    if account_id is None:
        account_ids = await run_in_threadpool(services.accounts.owned_ids, user.id)
    else:
        found = await run_in_threadpool(services.accounts.get, user.id, account_id)
        if found is None:  # another user's account looks exactly like one that does not exist
            return Close(CLOSE_POLICY, "account not found")
        account_ids = [account_id]
    return hub.new_client(user.id, holder.session_id, account_ids)


async def _serve(
    socket: WebSocket, services: ApiServices, hub: RealtimeHub, account_id: str | None
) -> None:
    limits = hub.limits
    if not origin_allowed(
        socket.headers.get("origin"), socket.headers.get("host"), services.limits.allowed_origins
    ):
        await socket.close(code=CLOSE_POLICY, reason="origin not allowed")
        return
    await socket.accept()
    if account_id is not None and not _valid_account_id(account_id):
        await _close(socket, Close(CLOSE_POLICY, "account not found"), limits.close_timeout_seconds)
        return
    client = await _authenticate(socket, services, hub, account_id)
    if client is None:
        return
    if isinstance(client, Close):
        await _close(socket, client, limits.close_timeout_seconds)
        return
    try:
        await hub.join(client)
    except FeedError as exc:
        log.warning("realtime: a client could not join: %s", exc)
        reason = "live data is unavailable right now: reconnect"
        await _close(socket, Close(CLOSE_TRY_AGAIN, reason), limits.close_timeout_seconds)
        return
    try:
        await _pump(socket, services, hub, client)
    finally:
        hub.leave(client)


def _valid_account_id(account_id: str) -> bool:
    return len(account_id) <= 128 and re.fullmatch(ID_PATTERN, account_id) is not None


async def _pump(
    socket: WebSocket, services: ApiServices, hub: RealtimeHub, client: RealtimeClient
) -> None:
    reader = asyncio.create_task(_ignore_incoming(socket))
    writer = asyncio.create_task(_write(socket, services, hub, client))
    _, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def _ignore_incoming(socket: WebSocket) -> None:
    """Read (and drop) what the client sends after its auth message, until it leaves."""
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _write(
    socket: WebSocket, services: ApiServices, hub: RealtimeHub, client: RealtimeClient
) -> None:
    limits = hub.limits
    loop = asyncio.get_running_loop()
    next_check = loop.time() + limits.session_check_seconds
    while True:
        item: str | Close
        # asyncio.timeout, not wait_for: no task per message (hundreds of sockets per
        # process each take every message of their accounts).
        try:
            if client.queue.empty():
                async with asyncio.timeout(limits.heartbeat_seconds):
                    item = await client.queue.get()
            else:
                item = client.queue.get_nowait()
        except TimeoutError:
            item = f'{{"kind":"heartbeat","live":{"true" if hub.live else "false"}}}'
        if not isinstance(item, Close) and loop.time() >= next_check:
            next_check = loop.time() + limits.session_check_seconds
            user = await run_in_threadpool(
                services.users.session_user, client.user_id, client.session_id
            )
            if user is None:
                item = Close(CLOSE_POLICY, "the session has ended: sign in again")
        if isinstance(item, Close):
            await _close(socket, item, limits.close_timeout_seconds)
            return
        try:
            async with asyncio.timeout(limits.send_timeout_seconds):
                await socket.send_text(item)
        except TimeoutError:
            hub.dropped_slow += 1
            reason = "the client does not keep up: reconnect"
            await _close(socket, Close(CLOSE_TRY_AGAIN, reason), limits.close_timeout_seconds)
            return
        except (WebSocketDisconnect, OSError, RuntimeError):
            return
        client.sent += 1
