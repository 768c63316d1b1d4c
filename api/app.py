"""The FastAPI app: live account monitoring, stored alerts, daily roll-ups, the dashboard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from api.hub import BreachHub
from api.ports import DailyRow, History, LiveAccounts, StoredAlert
from schemas.state import AccountSnapshot


def _dashboard_html() -> str:
    return (resources.files("api") / "static" / "dashboard.html").read_text("utf-8")


def _breach_message(line: str) -> str:
    """A WebSocket message around a breach's JSON line, without decoding it again."""
    return f'{{"kind":"breach","breach":{line}}}'


def create_app(live: LiveAccounts, history: History | None, hub: BreachHub) -> FastAPI:
    """The app, given its adapters (wired in ``aetheris``)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        yield

    app = FastAPI(title="AETHERIS", version="0.1.0", lifespan=lifespan)
    page = _dashboard_html()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> str:
        return page

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/accounts")
    def accounts() -> list[AccountSnapshot]:
        return live.snapshots()

    @app.get("/api/v1/accounts/{account_id}")
    def account(account_id: str) -> AccountSnapshot:
        found = live.snapshot(account_id)
        if found is None:
            raise HTTPException(404, f"account {account_id!r} is not monitored")
        return found

    @app.get("/api/v1/alerts")
    def alerts(
        account_id: str | None = None, limit: int = Query(100, ge=1, le=1_000)
    ) -> list[StoredAlert]:
        if history is None:
            raise HTTPException(503, "no database configured")
        return history.alerts(account_id, limit)

    @app.get("/api/v1/accounts/{account_id}/daily")
    def daily(account_id: str, days: int = Query(90, ge=1, le=3_660)) -> list[DailyRow]:
        if history is None:
            raise HTTPException(503, "no database configured")
        return history.daily(account_id, days)

    @app.websocket("/ws/realtime")
    async def realtime(socket: WebSocket) -> None:
        await socket.accept()
        queue = hub.subscribe()
        try:
            for line in hub.recent():
                await socket.send_text(_breach_message(line))
            while True:
                await socket.send_text(_breach_message(await queue.get()))
        except WebSocketDisconnect:
            pass
        finally:
            hub.unsubscribe(queue)

    return app
