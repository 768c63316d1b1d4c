"""The FastAPI app: identity, accounts, trades, trading sessions, stored alerts, daily
roll-ups, and the dashboard page; built over ports by :func:`create_app`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.hardening import HardeningMiddleware, install_error_handlers
from api.routes import (
    accounts,
    alert_settings,
    alerts,
    auth,
    brokers,
    metrics,
    risk,
    sessions,
    syncjobs,
    trades,
    webhooks,
)
from api.routes import realtime as realtime_routes
from api.routes.realtime import install_websockets
from api.services import ApiServices

STATIC = Path(__file__).resolve().parent / "static"
# At shutdown, the most time the live feed gets to close its Redis connection.
STOP_SECONDS = 5.0
log = logging.getLogger(__name__)


def _dashboard_html() -> str:
    return (resources.files("api") / "static" / "index.html").read_text("utf-8")


def create_app(services: ApiServices) -> FastAPI:
    """The app, given its adapters (wired in ``aetheris``)."""
    realtime = services.realtime

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if realtime is not None:
            await realtime.start()
        try:
            yield
        finally:
            if realtime is not None:
                try:
                    await asyncio.wait_for(realtime.stop(), STOP_SECONDS)
                except TimeoutError:
                    log.warning("the live feed did not stop within %g s; leaving it", STOP_SECONDS)
            for close in services.closers:
                close()

    app = FastAPI(
        title="AETHERIS",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        responses={
            400: {"description": "the body is not JSON (or not UTF-8)"},
            413: {"description": "the body is larger than the cap"},
            422: {"description": "the input does not validate"},
        },
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(services.limits.allowed_origins),
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    app.add_middleware(
        HardeningMiddleware,
        max_body_bytes=services.limits.max_body_bytes,
        body_limits=services.limits.body_limits,
    )
    for router in (
        auth.router,
        auth.totp,
        accounts.router,
        trades.router,
        sessions.router,
        alerts.router,
        webhooks.router,
        alert_settings.router,
        metrics.router,
        risk.router,
        realtime_routes.router,
        brokers.router,
        brokers.bridge,
        syncjobs.router,
    ):
        app.include_router(router)
    if services.limits.docs:
        _offline_docs(app)
    page = _dashboard_html()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> str:
        return page

    # The page's scripts, styles and icon, from this package: no CDN, no build step.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/api/v1/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if realtime is not None:
        install_websockets(app, services, realtime)

    return app


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files of the ``swagger-ui-bundle`` package: no CDN."""
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # noqa: PLC0415

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="AETHERIS API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
