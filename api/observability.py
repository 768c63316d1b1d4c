"""Request metrics and request ids for the API, as one pure ASGI middleware.

Per request: the rate and latency by method, route template (``/api/v1/accounts/{id}``,
never the raw path: bounded label values) and status; WebSocket connections open now.
Each request gets an id (the proxy's ``X-Request-Id`` when it is a sane one, else a new
one) that JSON log lines written while it runs carry, and the response returns.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.realtime import RealtimeHub, RealtimeLimits
from infra.live.feed import LiveFeed
from infra.observability import log_context

REQUESTS = Counter(
    "aetheris_api_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "aetheris_api_request_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKET_CLIENTS = Gauge(
    "aetheris_api_websocket_clients",
    "WebSocket connections open on this API process.",
)
UNMATCHED = "unmatched"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = bytes(value).decode("latin-1")
            if _SAFE_ID.match(text):
                return text
            break  # a forged or oversized id is replaced, never logged
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            WEBSOCKET_CLIENTS.inc()
            try:
                with log_context(request_id=request_id_of(scope)):
                    await self.app(scope, receive, send)
            finally:
                WEBSOCKET_CLIENTS.dec()
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with log_context(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            method, route = scope["method"], route_of(scope)
            REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)
            REQUESTS.labels(method, route, str(status)).inc()


FANOUT_SECONDS = Histogram(
    "aetheris_api_fanout_seconds",
    "Time to hand one live message from Redis to the queue of every WebSocket client "
    "watching its account on this process.",
    buckets=(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1),
)
FANOUT_MESSAGES = Counter(
    "aetheris_api_fanout_messages",
    "Live messages (standings, breaches, status changes) this process received from Redis.",
)
REALTIME_CLIENTS = Gauge(
    "aetheris_api_realtime_clients",
    "WebSocket clients registered with this process's live hub (authenticated, watching).",
)


class MeasuredRealtimeHub(RealtimeHub):
    """The live hub, its fan-out timed and its clients counted (composition root's choice)."""

    def __init__(self, feed: LiveFeed, limits: RealtimeLimits | None = None) -> None:
        super().__init__(feed, limits)
        REALTIME_CLIENTS.set_function(lambda: self.clients)

    def on_message(self, account_id: str, message: str) -> None:
        started = time.perf_counter()
        super().on_message(account_id, message)
        FANOUT_SECONDS.observe(time.perf_counter() - started)
        FANOUT_MESSAGES.inc()
