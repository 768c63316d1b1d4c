"""The API's hard edges: body-size cap (413), security headers, error bodies that never
echo input or show a stack trace, and the browser-origin allow-list."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline'; "
        b"style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
)


_SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HardeningMiddleware:
    """Caps request bodies (declared or streamed) and adds security headers to every answer.

    A declared ``Content-Length`` over the cap is refused before the body is read; the
    server (uvicorn, h11) holds a body to its declared length.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_limits: tuple[tuple[str, int], ...] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = body_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next(
            (size for prefix, size in self.body_limits if scope["path"].startswith(prefix)),
            self.max_body_bytes,
        )
        too_large = f"the request body is larger than {limit} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "Content-Length is not a number")
                    return
                if declared > limit:
                    await _send_json(send, 413, too_large)
                    return
        declared_length = any(name == b"content-length" for name, _ in scope["headers"])
        if not declared_length and scope["method"] in {"POST", "PUT", "PATCH", "DELETE"}:
            # A streamed (chunked) body: read it here, bounded, before the app sees it.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await _send_json(send, 413, too_large)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            replayed = False

            async def buffered_receive() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = buffered_receive

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name not in _SECURITY_HEADER_NAMES
                ]
                message = {**message, "headers": [*headers, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, secured_send)


def _clean_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors without the offending input (never echoed back)."""
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean_errors(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        if exc.status_code == 204:
            return Response(status_code=204, headers=headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (a 405's ``Allow`` header)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods
    return sorted(methods)


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """A browser ``Origin`` may connect when it is the API's own or on the allow-list.
    Clients that are not browsers send no ``Origin`` and are allowed (they authenticate)."""
    if origin is None:
        return True
    if origin in set(allowed):
        return True
    return host is not None and origin in (f"http://{host}", f"https://{host}")
