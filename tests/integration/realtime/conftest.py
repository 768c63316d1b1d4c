"""Live streams on the real services: an API server (uvicorn on a free port, in a thread of
the test) on PostgreSQL (the session's scratch database) and Redis (keys and channels
under a prefix of the test's own). Standings, breaches and status changes are published
with the pipeline's own Redis adapter (:class:`infra.live.RedisLive`).

The event sink records what the API would publish to Kafka: these tests are about the
live side; the process tests (test_replicas.py) run the real pipeline over Kafka.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from limits import parse
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from aetheris.apiwiring import ApiSecrets
from api.app import create_app
from api.history import DatabaseHistory
from api.realtime import RealtimeHub, RealtimeLimits
from api.security import AccessTokens, Passwords
from api.services import ApiLimits, ApiServices
from infra.db.accounts import PostgresAccounts, PostgresSessions, PostgresTrades
from infra.db.pool import Pool
from infra.db.users import PostgresUsers
from infra.live.feed import RedisFeed
from infra.live.redis_store import RedisLive
from infra.live.tickets import RedisRevocations, RedisTickets
from infra.ratelimit import RateLimiter
from infra.secrets import SecretBox, new_key
from infra.standings import RedisStandings
from schemas import AccountEvent, BreachEvent, StatusEvent, TradeEvent
from schemas.state import AccountSnapshot, RuleStanding
from tests.integration.db.conftest import admin_url, database_url, pool
from tests.integration.live.fixtures import redis_client, redis_prefix, redis_url

__all__ = ["admin_url", "database_url", "pool", "redis_client", "redis_prefix", "redis_url"]

SECRET_KEY = "test-signing-key-" + "0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "correct horse battery staple"
ORIGIN = "https://desk.example"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration/realtime" in str(item.path):
            item.add_marker(pytest.mark.integration)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RecordingSink:
    """:class:`api.ports.EventSink` that keeps the events (Kafka is not under test here)."""

    def __init__(self) -> None:
        self.events: list[AccountEvent | TradeEvent] = []

    def publish(self, event: AccountEvent | TradeEvent) -> None:
        self.events.append(event)


@dataclass
class Server:
    """An API process's app served by uvicorn in a thread, on a port of its own."""

    base: str
    services: ApiServices
    hub: RealtimeHub
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(20)


FAST_PASSWORDS = Passwords(memory_kib=1_024, time_cost=1)


def start_server(
    pool: Pool,
    redis_url: str,
    prefix: str,
    *,
    limits: RealtimeLimits | None = None,
    ticket_seconds: int = 30,
) -> Server:
    secrets = ApiSecrets(
        tokens=AccessTokens(
            SECRET_KEY,
            issuer="aetheris-test",
            audience="aetheris-api-test",
            lifetime=timedelta(minutes=15),
        ),
        cipher=SecretBox([new_key()]),
    )
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url, socket_timeout=3)
    hub = RealtimeHub(RedisFeed(redis_url, prefix, 2.0), limits or RealtimeLimits())
    services = ApiServices(
        users=PostgresUsers(pool),
        accounts=PostgresAccounts(pool),
        trades=PostgresTrades(pool),
        sessions=PostgresSessions(pool),
        standings=RedisStandings(client, prefix),
        events=RecordingSink(),
        cipher=secrets.cipher,
        limiter=RateLimiter.redis(redis_url, prefix),
        tokens=secrets.tokens,
        passwords=FAST_PASSWORDS,
        limits=ApiLimits(
            login=parse("1000/minute"),
            register=parse("1000/minute"),
            totp=parse("1000/minute"),
            ticket=parse("1000/minute"),
            allowed_origins=(ORIGIN,),
        ),
        history=DatabaseHistory(pool),
        realtime=hub,
        tickets=RedisTickets(client, prefix, ticket_seconds),
        revocations=RedisRevocations(client, prefix),
    )
    services.closers.append(client.close)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the test API server did not start")
        time.sleep(0.02)
    return Server(base, services, hub, server, thread)


@pytest.fixture
def server(pool: Pool, redis_url: str, redis_prefix: str) -> Iterator[Server]:
    started = start_server(pool, redis_url, redis_prefix)
    yield started
    started.stop()


@pytest.fixture
def live(redis_url: str, redis_prefix: str) -> Iterator[RedisLive]:
    """The pipeline's publisher on the test's prefix."""
    publisher = RedisLive.from_url(redis_url, redis_prefix, 3.0)
    yield publisher
    publisher.close()


@dataclass
class Trader:
    id: str
    email: str
    access: str
    refresh: str
    accounts: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def sign_up(base: str, *, accounts: int = 1) -> Trader:
    email = f"trader-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=base, timeout=10) as http:
        registered = http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        tokens = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        trader = Trader(registered.json()["id"], email, body["access_token"], body["refresh_token"])
        for number in range(accounts):
            created = http.post(
                "/api/v1/accounts",
                headers=trader.auth,
                json={
                    "name": f"challenge {number}",
                    "ruleset": "ftmo-2step",
                    "initial_balance": 100_000,
                    "currency": "USD",
                },
            )
            assert created.status_code == 201, created.text
            trader.accounts.append(created.json()["id"])
    return trader


def ticket(base: str, trader: Trader) -> str:
    answer = httpx.post(f"{base}/api/v1/realtime/ticket", headers=trader.auth, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"ticket", "expires_in"}
    value: str = body["ticket"]
    return value


async def post(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.post`` off the event loop (the test's loop also runs its WebSocket clients)."""
    return await asyncio.to_thread(httpx.post, url, timeout=10, **kwargs)


async def open_stream(
    ws_base: str, ticket_value: str, account_id: str | None = None, **kwargs: Any
) -> ClientConnection:
    path = "/ws/realtime" if account_id is None else f"/ws/realtime/{account_id}"
    socket_ = await connect(f"{ws_base}{path}", open_timeout=10, **kwargs)
    await socket_.send(json.dumps({"type": "auth", "ticket": ticket_value}))
    return socket_


async def next_message(socket_: ClientConnection, kind: str, within: float = 10) -> dict[str, Any]:
    """The next message of this kind (heartbeats and other kinds are skipped)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError(f"no {kind!r} message within {within} s")
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket_.recv(), left))
        if message["kind"] == kind:
            return message


async def closed_with(socket_: ClientConnection, within: float = 10) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(within):
            while True:
                await socket_.recv()
    received = closed.value.rcvd
    assert received is not None, f"closed without a close frame: {closed.value}"
    return received.code, received.reason


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def standing(
    account_id: str,
    *,
    equity: float = 100_000.0,
    balance: float = 100_000.0,
    daily_used: float = 0.0,
    daily_level: int = 0,
    status: str = "active",
    currency: str = "USD",
) -> AccountSnapshot:
    """An FTMO-like standing: daily loss limit 5,000, max loss 10,000 (levels 50/80/100 %)."""
    max_used = max(0.0, 100_000.0 - equity)
    return AccountSnapshot.model_validate(
        {
            "account_id": account_id,
            "ruleset": "ftmo-2step",
            "currency": currency,
            "initial_balance": 100_000.0,
            "balance": balance,
            "equity": equity,
            "start_of_day_balance": 100_000.0,
            "start_of_day_equity": 100_000.0,
            "highest_eod_balance": 100_000.0,
            "peak_equity": 100_000.0,
            "rules": (
                RuleStanding(
                    rule="max_daily_loss",
                    used=daily_used,
                    limit=5_000.0,
                    used_percent=daily_used / 50.0,
                    threshold=95_000.0,
                    level=daily_level,
                    headroom_breach=max(0.0, 5_000.0 - daily_used),
                ),
                RuleStanding(
                    rule="max_loss",
                    used=max_used,
                    limit=10_000.0,
                    used_percent=max_used / 100.0,
                    threshold=90_000.0,
                    level=0,
                    headroom_breach=max(0.0, 10_000.0 - max_used),
                ),
            ),
            "events_applied": 1,
            "duplicate_trades": 0,
            "breaches_emitted": 0,
            "status": status,
            "last_event_time": T0,
        }
    )


def breach(account_id: str, level: int, number: int = 0, message: str = "") -> BreachEvent:
    return BreachEvent.model_validate(
        {
            "breach_id": f"{account_id}-{level}-{number}",
            "account_id": account_id,
            "rule": "max_daily_loss",
            "level": level,
            "ts": T0 + timedelta(seconds=number),
            "value": 2_500.0 + 1_000 * level,
            "limit": 5_000.0,
            "message": message or f"daily loss at level {level}",
        }
    )


def status_change(account_id: str, status: str = "locked") -> StatusEvent:
    return StatusEvent.model_validate(
        {
            "status_id": f"{account_id}-{status}",
            "account_id": account_id,
            "status": status,
            "previous": "active",
            "ts": T0,
            "rule": "max_daily_loss",
            "message": f"account {status}",
        }
    )
