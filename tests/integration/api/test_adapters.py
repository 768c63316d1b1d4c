"""The API's adapters on the real services: live standings read from Redis, rate limits
shared in Redis, TOTP secrets re-encrypted by `aetheris secrets rotate`, and the demo's
WebSocket and page behind the origin check."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from uuid import UUID

import pytest
import redis
from limits import parse
from starlette.websockets import WebSocketDisconnect

from api.services import ApiLimits
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.pool import Pool
from infra.db.users import PostgresUsers
from infra.live import standing_key
from infra.live.redis_store import RedisLive
from infra.ratelimit import RateLimiter
from infra.rulesets import RulesetCatalog
from infra.secrets import SecretBox, new_key
from infra.standings import RedisStandings
from risk_engine import Armor, snapshot
from tests.integration.api.conftest import ACCOUNT, Api, build_api, sign_up
from tests.unit.risk_engine.builders import account, tick


def test_standings_are_read_from_the_pipelines_redis_keys(
    redis_url: str, redis_prefix: str
) -> None:
    armor = Armor(RulesetCatalog())
    for event in (
        account("ftmo-2step", account_id="S1"),
        tick("2026-03-02 09:00", 100_000, account_id="S1"),
        tick("2026-03-02 10:00", 100_000, 96_000, account_id="S1"),
    ):
        armor.process(event)
    standing = snapshot(armor.accounts["S1"])
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(standing_key(redis_prefix, "S1"), standing.model_dump_json())
        client.set(standing_key(redis_prefix, "BROKEN"), b'{"account_id": 1}')
        found = RedisStandings(client, redis_prefix).get_many(["S1", "BROKEN", "NONE"])
    finally:
        client.close()
    assert found == {"S1": standing}
    rules = {rule.rule: rule for rule in found["S1"].rules}
    # FTMO 2-step: 5 % of 100,000 daily; equity 96,000 from a 100,000 start used 4,000.
    assert rules["max_daily_loss"].used == 4_000
    assert rules["max_daily_loss"].used_percent == 80


def test_rate_limits_are_shared_through_redis(redis_url: str, redis_prefix: str) -> None:
    limit = parse("2/minute")
    first = RateLimiter.redis(redis_url, redis_prefix)
    second = RateLimiter.redis(redis_url, redis_prefix)
    assert first.hit(limit, "login", "ip", "10.0.0.1") is None
    assert second.hit(limit, "login", "ip", "10.0.0.1") is None
    wait = first.hit(limit, "login", "ip", "10.0.0.1")
    assert wait is not None and 1 <= wait <= 60
    assert second.hit(limit, "login", "ip", "10.0.0.2") is None  # another key, its own count
    other_prefix = RateLimiter.redis(redis_url, redis_prefix + "-other")
    assert other_prefix.hit(limit, "login", "ip", "10.0.0.1") is None


def test_secrets_rotate_re_encrypts_every_totp_secret(own_pool: Pool, own_database: str) -> None:
    old, new = new_key(), new_key()
    users = PostgresUsers(own_pool)
    created = [users.create(f"rotate-{i}-{os.getpid()}@example.com", "x") for i in range(2)]
    ids: list[UUID] = []
    for index, user in enumerate(created):
        assert user is not None
        assert users.set_pending_totp(user.id, SecretBox([old]).encrypt(f"SECRET{index}".encode()))
        ids.append(user.id)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AETHERIS_")}
    env.update(
        DATABASE_URL=own_database,
        AETHERIS_DB_TIMESCALE="off",
        AETHERIS_ENCRYPTION_KEYS=f"{new},{old}",
    )
    done = subprocess.run(
        [sys.executable, "-m", "aetheris.cli", "secrets", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "TOTP secrets re-encrypted" in done.stdout
    only_new = SecretBox([new])
    stored = dict(users.totp_ciphertexts())
    assert [only_new.decrypt(stored[user_id]) for user_id in ids] == [b"SECRET0", b"SECRET1"]
    assert new not in done.stdout + done.stderr and old not in done.stdout + done.stderr

    env["AETHERIS_ENCRYPTION_KEYS"] = "not-a-key"
    refused = subprocess.run(
        [sys.executable, "-m", "aetheris.cli", "secrets", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    assert "AETHERIS_ENCRYPTION_KEYS: key 1 of 1 is not a Fernet key" in refused.stderr


def test_the_websocket_checks_the_origin(api: Api) -> None:
    with api.client.websocket_connect(
        "/ws/realtime", headers={"Origin": "https://desk.example"}
    ) as socket:
        assert socket is not None
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        api.client.websocket_connect(
            "/ws/realtime", headers={"Origin": "https://evil.example"}
        ) as socket,
    ):
        socket.receive_text()
    assert refused.value.code == 1008


def test_the_dashboard_page_asks_for_a_login(api: Api) -> None:
    page = api.client.get("/")
    script = api.client.get("/static/app.js")
    style = api.client.get("/static/style.css")
    icon = api.client.get("/favicon.ico")
    assert page.status_code == 200
    assert 'src="/static/app.js"' in page.text
    assert 'id="totp"' in page.text
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "/api/v1/auth/login" in script.text
    assert "Bearer" in script.text
    assert "#C9A050" in style.text
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    # Everything from our own origin: nothing the page loads points at another host.
    loads = re.compile(
        r"""(src|href)=["']?(https?:)?//|from\s+["'](https?:)?//|url\(["']?(https?:)?//"""
    )
    for body in (page.text, script.text, style.text):
        assert loads.search(body) is None
    assert loads.search('<script src="https://cdn.example/x.js">')  # the check can fail


def test_the_docs_when_turned_on_load_nothing_from_a_cdn(
    pool: Pool, kafka: KafkaBus, topics: Topics, redis_url: str, redis_prefix: str
) -> None:
    api = build_api(pool, kafka, topics, redis_url, redis_prefix, limits=ApiLimits(docs=True))
    with api.client:
        page = api.client.get("/docs")
        script = api.client.get("/docs-assets/swagger-ui-bundle.js")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert script.status_code == 200 and len(script.content) > 100_000


def test_the_websocket_streams_the_breaches_the_pipeline_publishes_to_redis(
    api: Api, redis_url: str
) -> None:
    user = sign_up(api.client)
    account_id = api.client.post("/api/v1/accounts", headers=user.auth, json=ACCOUNT).json()["id"]
    armor = Armor(RulesetCatalog())
    breaches = [
        b.model_copy(update={"account_id": account_id})
        for e in (
            account("ftmo-2step"),
            tick("2026-03-02 09:00", 100_000),
            tick("2026-03-02 10:00", 100_000, 94_000),
        )
        for b in armor.process(e)
    ]
    assert [b.level for b in breaches] == [1, 2, 3]
    live = RedisLive.from_url(redis_url, api.redis_prefix, 3.0)
    ticket = api.client.post("/api/v1/realtime/ticket", headers=user.auth).json()["ticket"]
    try:
        with api.client.websocket_connect("/ws/realtime") as socket:
            socket.send_json({"type": "auth", "ticket": ticket})
            snapshot_message = socket.receive_json()
            live.publish(breaches[:2])
            first, second = socket.receive_json(), socket.receive_json()
            # The test client cancels the app right after the socket's ``with`` ends; let
            # the handler see the disconnect and leave the hub first, as under a server.
            socket.close()
            hub = api.services.realtime
            assert hub is not None
            deadline = time.monotonic() + 10
            while hub.clients and time.monotonic() < deadline:
                time.sleep(0.02)
            assert hub.clients == 0
    finally:
        live.close()
    assert snapshot_message == {
        "kind": "snapshot",
        "account_id": account_id,
        "seq": 0,
        "state": None,
    }
    assert first == {"kind": "breach", "breach": breaches[0].model_dump(mode="json")}
    assert second["breach"]["breach_id"] == breaches[1].breach_id
