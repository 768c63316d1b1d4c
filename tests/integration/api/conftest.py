"""The API on the real services: PostgreSQL (the session's scratch database), Redis (keys
under a prefix of this test's own) and Kafka (topics of this test's own).

Nothing is skipped: a service that is down fails the tests with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from limits import parse

from aetheris.apiwiring import ApiSecrets, BusEventSink
from api.app import create_app
from api.history import DatabaseHistory
from api.hub import BreachHub
from api.metrics import DatabaseMetrics
from api.security import AccessTokens, Passwords
from api.services import ApiLimits, ApiServices
from api.webhooks import WebhookService
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.accounts import PostgresAccounts, PostgresSessions, PostgresTrades
from infra.db.alerts import PostgresAlerts
from infra.db.pool import Pool
from infra.db.users import PostgresUsers
from infra.kpi_cache import RedisKpiCache
from infra.notify.cipher import KEYBOX_KEY_ID, KeyBoxCipher
from infra.notify.ssrf import SystemResolver
from infra.ratelimit import RateLimiter
from infra.secrets import SecretBox, new_key
from infra.standings import RedisStandings
from tests.integration.db.conftest import admin_url, database_url, pool
from tests.integration.kafka.conftest import bootstrap, kafka, topics

__all__ = ["admin_url", "bootstrap", "database_url", "kafka", "pool", "topics"]

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
    hub: BreachHub


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
    hub = BreachHub()
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
        hub=hub,
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
        hub=hub,
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
