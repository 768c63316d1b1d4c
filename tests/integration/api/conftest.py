"""The API on the real services: PostgreSQL (the session's scratch database), Redis (keys
under a prefix of this test's own) and Kafka (topics of this test's own).

Nothing is skipped: a service that is down fails the tests with the reason.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from limits import parse

from aetheris.apiwiring import ApiSecrets, BusEventSink
from api.app import create_app
from api.history import DatabaseHistory
from api.metrics import DatabaseMetrics
from api.realtime import RealtimeHub
from api.security import AccessTokens, Passwords
from api.services import ApiLimits, ApiServices
from api.webhooks import WebhookService
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.accounts import (
    PostgresAccounts,
    PostgresSessions,
    PostgresTrades,
)
from infra.db.alerts import PostgresAlerts
from infra.db.database import prepare_database
from infra.db.pool import Pool, create_pool, redact_url
from infra.db.scratch import scratch_database
from infra.db.users import PostgresUsers
from infra.kpi_cache import RedisKpiCache
from infra.live.feed import RedisFeed
from infra.live.tickets import RedisRevocations, RedisTickets
from infra.notify.cipher import KEYBOX_KEY_ID, KeyBoxCipher
from infra.notify.ssrf import SystemResolver
from infra.ratelimit import RateLimiter
from infra.secrets import SecretBox, new_key
from infra.standings import RedisStandings
from tests.integration.db.conftest import ADMIN_URL
from tests.integration.kafka.conftest import bootstrap, kafka, topics

__all__ = ["bootstrap", "kafka", "topics"]

REDIS_URL = os.environ.get("AETHERIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET_KEY = "test-signing-key-" + "0123456789abcdefghijklmnopqrstuvwxyz"
ISSUER = "aetheris-test"
AUDIENCE = "aetheris-api-test"
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration/api" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def admin_url() -> str:
    """The plain PostgreSQL server (the API does not depend on the storage backend)."""
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {redact_url(ADMIN_URL)} ({exc}); start it with "
            "`bash scripts/services.sh postgres` -- the API tests need a real server",
            pytrace=False,
        )
    return ADMIN_URL


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    """This session's API database, migrated for plain PostgreSQL."""
    with scratch_database(admin_url, prefix="aetheris_test_api") as url:
        prepare_database(url, timescale="off")
        yield url


@pytest.fixture(scope="session")
def pool(database_url: str) -> Iterator[Pool]:
    opened = create_pool(database_url, size=4, name="aetheris-test-api")
    yield opened
    opened.close()


@pytest.fixture
def own_database(admin_url: str) -> Iterator[str]:
    """A migrated database of the test's own: for commands that touch every row (key
    rotation), which must not meet the rows other tests left in the session's database."""
    with scratch_database(admin_url, prefix="aetheris_test_api_own") as url:
        prepare_database(url, timescale="off")
        yield url


@pytest.fixture
def own_pool(own_database: str) -> Iterator[Pool]:
    opened = create_pool(own_database, size=2, name="aetheris-test-api-own")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}); start it with "
            "`bash scripts/services.sh redis` -- the API tests need a real server",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards (never FLUSHDB)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"*{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()


@dataclass
class Clock:
    """The API's clock for TOTP: fixed, moved by the test."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, 10, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Api:
    client: TestClient
    services: ApiServices
    clock: Clock
    topics: Topics
    redis_prefix: str


# Cheap argon2 parameters keep the suite fast; the bench measures the real (OWASP) cost.
FAST_PASSWORDS = Passwords(memory_kib=1_024, time_cost=1)


def build_api(
    pool: Pool,
    kafka: KafkaBus,
    topics: Topics,
    redis_url: str,
    redis_prefix: str,
    *,
    limits: ApiLimits | None = None,
) -> Api:
    clock = Clock()
    secrets = ApiSecrets(
        tokens=AccessTokens(
            SECRET_KEY, issuer=ISSUER, audience=AUDIENCE, lifetime=timedelta(minutes=15)
        ),
        cipher=SecretBox([new_key()]),
    )
    client = redis.Redis.from_url(redis_url, socket_timeout=3)
    services = ApiServices(
        users=PostgresUsers(pool),
        accounts=PostgresAccounts(pool),
        trades=PostgresTrades(pool),
        sessions=PostgresSessions(pool),
        standings=RedisStandings(client, redis_prefix),
        events=BusEventSink(kafka, topics),
        cipher=secrets.cipher,
        limiter=RateLimiter.redis(redis_url, redis_prefix),
        tokens=secrets.tokens,
        passwords=FAST_PASSWORDS,
        limits=limits
        or ApiLimits(
            login=parse("1000/minute"),
            register=parse("1000/minute"),
            totp=parse("1000/minute"),
            allowed_origins=("https://desk.example",),
        ),
        history=DatabaseHistory(pool),
        realtime=RealtimeHub(RedisFeed(redis_url, redis_prefix)),
        tickets=RedisTickets(client, redis_prefix, 30),
        revocations=RedisRevocations(client, redis_prefix),
        clock=clock,
        alerts=PostgresAlerts(pool),
        # The real SSRF guard, no allow-list: tests that need a local receiver swap it.
        webhooks=WebhookService(
            pool,
            cipher=KeyBoxCipher(secrets.cipher),
            resolver=SystemResolver(),
            key_id=KEYBOX_KEY_ID,
        ),
        metrics=DatabaseMetrics(pool, RedisKpiCache(client, redis_prefix, 60)),
    )
    services.closers.append(client.close)
    return Api(
        client=TestClient(create_app(services)),
        services=services,
        clock=clock,
        topics=topics,
        redis_prefix=redis_prefix,
    )


@pytest.fixture
def api(
    pool: Pool, kafka: KafkaBus, topics: Topics, redis_url: str, redis_prefix: str
) -> Iterator[Api]:
    built = build_api(pool, kafka, topics, redis_url, redis_prefix)
    with built.client:
        yield built


@dataclass
class User:
    id: str
    email: str
    password: str
    access: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def sign_up(client: TestClient, email: str | None = None, password: str = PASSWORD) -> User:
    email = email or f"trader-{uuid.uuid4().hex[:10]}@example.com"
    registered = client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    tokens = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return User(
        id=registered.json()["id"],
        email=email,
        password=password,
        access=body["access_token"],
        refresh=body["refresh_token"],
    )


@pytest.fixture
def alice(api: Api) -> User:
    return sign_up(api.client)


@pytest.fixture
def bob(api: Api) -> User:
    return sign_up(api.client)


ACCOUNT = {
    "name": "FTMO challenge",
    "ruleset": "ftmo-2step",
    "initial_balance": 100_000,
    "currency": "USD",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def serve_env(
    database_url: str, redis_url: str, redis_prefix: str, bootstrap: str, topics: Topics
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AETHERIS_", "KAFKA_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        AETHERIS_SECRET_KEY=SECRET_KEY,
        AETHERIS_ENCRYPTION_KEYS=new_key(),
        AETHERIS_REDIS_PREFIX=redis_prefix,
        AETHERIS_DB_TIMESCALE="off",
        AETHERIS_TOPIC_EVENTS=topics.events,
        AETHERIS_TOPIC_BREACHES=topics.breaches,
        AETHERIS_TOPIC_DEADLETTER=topics.deadletter,
        AETHERIS_TOPIC_PARTITIONS=str(topics.partitions),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def server(serve_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A running `aetheris api serve` with two workers; its output goes to a file (a pipe
    nobody reads would stall it once full) and is shown if it fails to start or to stop."""
    log = tmp_path / "api-serve.log"
    with log.open("w") as output_file:
        process, base = start_served(serve_env, output_file, log, workers=2)
        try:
            yield base
        finally:
            stop_served(process, log)


def start_served(
    env: dict[str, str], output: IO[str], log: Path, *, workers: int
) -> tuple[subprocess.Popen[bytes], str]:
    """`aetheris api serve` on a free port, in a process group of its own (its workers are
    signalled together), once it answers its health check: the process and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aetheris.cli",
            "api",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "info",
        ],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_served(process, log)
            raise AssertionError(f"api serve did not come up: {log.read_text()}")
        time.sleep(0.3)


def stop_served(process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """SIGTERM, as a process manager stops it; one that has not exited in ``timeout`` s
    (its graceful shutdown is bounded well below that) has its stacks dumped (SIGUSR1)
    and is killed, and the test fails with its log."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGUSR1)
        time.sleep(2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        raise AssertionError(
            f"api serve did not stop within {timeout:g} s: {log.read_text()}"
        ) from None
