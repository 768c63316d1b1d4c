"""Alerts, webhooks and the e-mail opt-in through the API on the real services: filters and
cursor pages of stored breaches, dismissal, re-sends, webhook registration (the SSRF guard
answers 422 with its reason), deliveries and pings -- and user B gets 404 on A's ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from standardwebhooks import Webhook

from api.webhooks import WebhookService
from infra.db.pool import Pool
from infra.db.sinks import PostgresSink
from infra.notify import repository as repo
from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import KEYBOX_KEY_ID, KeyBoxCipher
from infra.notify.http import WebhookHttpClient
from infra.notify.ssrf import SystemResolver, parse_allowed_networks
from infra.notify.worker import NotifyConfig, NotifyWorker
from schemas import BreachEvent
from tests.integration.api.conftest import ACCOUNT, Api, User
from tests.integration.notify_support import webhook_receiver

LOCAL = parse_allowed_networks("127.0.0.0/8")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _account(api: Api, user: User) -> str:
    response = api.client.post("/api/v1/accounts", headers=user.auth, json=ACCOUNT)
    assert response.status_code == 201, response.text
    account_id: str = response.json()["id"]
    return account_id


def _breach(account_id: str, n: int, *, level: int, rule: str, minutes: int) -> BreachEvent:
    return BreachEvent(
        breach_id=f"b{n}-{uuid4().hex[:12]}",
        account_id=account_id,
        rule=rule,  # type: ignore[arg-type]
        level=level,  # type: ignore[arg-type]
        ts=T0 + timedelta(minutes=minutes),
        value=1_000.0 * level,
        limit=5_000.0,
        threshold=95_000.0,
        message=f"breach {n}",
    )


def _store(pool: Pool, *breaches: BreachEvent) -> None:
    PostgresSink(pool).write(list(breaches))


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["breach"]["breach_id"] for item in body["items"]]


@pytest.fixture
def stored(api: Api, alice: User, pool: Pool) -> tuple[str, str, list[BreachEvent]]:
    """Two accounts of alice's with five breaches: b0..b4, b2 and b3 at the same minute."""
    first, second = _account(api, alice), _account(api, alice)
    breaches = [
        _breach(first, 0, level=1, rule="max_daily_loss", minutes=0),
        _breach(first, 1, level=2, rule="max_daily_loss", minutes=10),
        _breach(first, 2, level=3, rule="max_daily_loss", minutes=20),
        _breach(second, 3, level=3, rule="max_loss", minutes=20),
        _breach(second, 4, level=1, rule="overtrading", minutes=30),
    ]
    _store(pool, *breaches)
    return first, second, breaches


def test_alerts_are_newest_first_and_paged_by_cursor(
    api: Api, alice: User, stored: tuple[str, str, list[BreachEvent]]
) -> None:
    _, _, b = stored
    # newest first; at the same time (b2, b3) by breach id ascending
    tied = sorted([b[2].breach_id, b[3].breach_id])
    expected = [b[4].breach_id, *tied, b[1].breach_id, b[0].breach_id]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = api.client.get("/api/v1/alerts", headers=alice.auth, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += _ids(body)
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 3  # 2 + 2 + 1
    bad = api.client.get("/api/v1/alerts", headers=alice.auth, params={"cursor": "bm90LW91cnM"})
    assert bad.status_code == 422


def test_alert_filters(api: Api, alice: User, stored: tuple[str, str, list[BreachEvent]]) -> None:
    first, second, b = stored

    def ids(**params: Any) -> set[str]:
        response = api.client.get("/api/v1/alerts", headers=alice.auth, params=params)
        assert response.status_code == 200, response.text
        return set(_ids(response.json()))

    assert ids(account_id=first) == {b[0].breach_id, b[1].breach_id, b[2].breach_id}
    assert ids(level=3) == {b[2].breach_id, b[3].breach_id}
    assert ids(rule="overtrading") == {b[4].breach_id}
    assert ids(account_id=second, level=3) == {b[3].breach_id}
    # from is included, to excluded: 09:10 <= ts < 09:30
    assert ids(**{"from": "2026-03-02T09:10:00Z", "to": "2026-03-02T09:30:00Z"}) == {
        b[1].breach_id,
        b[2].breach_id,
        b[3].breach_id,
    }
    assert (
        api.client.get("/api/v1/alerts", headers=alice.auth, params={"level": 4}).status_code == 422
    )
    assert (
        api.client.get(
            "/api/v1/alerts", headers=alice.auth, params={"from": "2026-03-02T09:10:00"}
        ).status_code
        == 422
    )  # a time without its offset is ambiguous
    for bad in ("0.5", "1741000000", "yesterday"):  # seconds since 1970 are not ISO-8601
        response = api.client.get("/api/v1/alerts", headers=alice.auth, params={"to": bad})
        assert response.status_code == 422, (bad, response.text)
        assert "ISO-8601" in response.text


def test_dismiss_then_filter_by_dismissed(
    api: Api, alice: User, stored: tuple[str, str, list[BreachEvent]]
) -> None:
    _, _, b = stored
    url = f"/api/v1/alerts/{b[1].breach_id}/dismiss"
    assert api.client.post(url, headers=alice.auth).status_code == 204
    first_time = api.clock.now
    api.clock.advance(60)
    assert api.client.post(url, headers=alice.auth).status_code == 204  # again: no change
    dismissed = api.client.get(
        "/api/v1/alerts", headers=alice.auth, params={"dismissed": True}
    ).json()["items"]
    assert [(a["breach"]["breach_id"], a["dismissed"]) for a in dismissed] == [
        (b[1].breach_id, True)
    ]
    assert datetime.fromisoformat(dismissed[0]["dismissed_at"]) == first_time
    open_ = api.client.get("/api/v1/alerts", headers=alice.auth, params={"dismissed": False})
    assert b[1].breach_id not in _ids(open_.json())
    assert len(open_.json()["items"]) == 4


def test_another_users_alerts_are_404_and_invisible(
    api: Api, alice: User, bob: User, stored: tuple[str, str, list[BreachEvent]], pool: Pool
) -> None:
    first, _, b = stored
    assert api.client.get("/api/v1/alerts", headers=bob.auth).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert (
        api.client.get("/api/v1/alerts", headers=bob.auth, params={"account_id": first}).status_code
        == 404
    )
    for action in ("dismiss", "resend"):
        response = api.client.post(f"/api/v1/alerts/{b[2].breach_id}/{action}", headers=bob.auth)
        assert response.status_code == 404, (action, response.text)
        missing = api.client.post(f"/api/v1/alerts/no-such-breach/{action}", headers=bob.auth)
        assert missing.status_code == 404
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT dismissed_at FROM breaches WHERE breach_id = %s", (b[2].breach_id,)
        ).fetchone()
    assert row == (None,)


def _local_webhooks(api: Api, pool: Pool) -> None:
    """Let this test register a receiver on 127.0.0.1 (the allow-list tests use)."""
    assert api.services.webhooks is not None
    api.services.webhooks = WebhookService(
        pool,
        cipher=KeyBoxCipher(api.services.cipher),
        resolver=SystemResolver(),
        allowed_networks=LOCAL,
        key_id=KEYBOX_KEY_ID,
    )


def _worker(api: Api, pool: Pool) -> NotifyWorker:
    return NotifyWorker(
        pool=pool,
        bus=None,
        config=NotifyConfig(
            topic="unused",
            consumer=f"test-{uuid4().hex[:8]}",
            retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02, max_attempts=3),
            allowed_networks=LOCAL,
            lease_seconds=30.0,
            poll_seconds=0.05,
        ),
        cipher=KeyBoxCipher(api.services.cipher),
        resolver=SystemResolver(),
        http=WebhookHttpClient(timeout_seconds=5.0),
        mailer=None,
        rng=lambda: 0.0,
    )


def _drain(worker: NotifyWorker, pool: Pool, event_id: str) -> None:
    for _ in range(100):
        worker.deliver_once()
        with pool.connection() as conn:
            states = repo.delivery_states(conn, "webhook", event_id)
        if states and all(s.status in ("succeeded", "dead") for s in states):
            return
    raise AssertionError(f"{event_id} never settled")


def test_register_list_ping_deliveries_delete(api: Api, alice: User, bob: User, pool: Pool) -> None:
    _local_webhooks(api, pool)
    with webhook_receiver(fail_first=1) as receiver:
        created = api.client.post(
            "/api/v1/webhooks", headers=alice.auth, json={"url": receiver.url, "levels": [3]}
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        assert set(hook) == {"id", "secret"} and hook["secret"].startswith("whsec_")
        listed = api.client.get("/api/v1/webhooks", headers=alice.auth).json()
        assert [(w["id"], w["url"], w["levels"]) for w in listed] == [
            (hook["id"], receiver.url, [3])
        ]
        assert "secret" not in listed[0]
        assert api.client.get("/api/v1/webhooks", headers=bob.auth).json() == []

        pinged = api.client.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=alice.auth)
        assert pinged.status_code == 202, pinged.text
        message_id = pinged.json()["webhook_id"]
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT event_id FROM webhook_deliveries WHERE message_id = %s", (message_id,)
            ).fetchone()
        assert row is not None
        _drain(_worker(api, pool), pool, row[0])
        good = receiver.successes()
        assert len(good) == 1
        assert good[0].headers["webhook-id"] == message_id
        verified = Webhook(hook["secret"]).verify(good[0].body, good[0].headers)
        assert verified["type"] == "ping"
        assert verified["data"]["endpoint_id"] == hook["id"]

        deliveries = api.client.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries", headers=alice.auth
        ).json()
        assert [(d["type"], d["webhook_id"], d["status"]) for d in deliveries] == [
            ("ping", message_id, "succeeded")
        ]
        # the receiver answered 500 once, then 200
        assert [
            (a["attempt"], a["status_code"], a["succeeded"]) for a in deliveries[0]["attempts"]
        ] == [
            (1, 500, False),
            (2, 200, True),
        ]

    for method, path in (
        ("GET", "deliveries"),
        ("POST", "ping"),
    ):
        response = api.client.request(
            method, f"/api/v1/webhooks/{hook['id']}/{path}", headers=bob.auth
        )
        assert response.status_code == 404, (path, response.text)
    assert api.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=bob.auth).status_code == 404
    assert (
        api.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=alice.auth).status_code == 204
    )
    assert api.client.get("/api/v1/webhooks", headers=alice.auth).json() == []
    assert (
        api.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=alice.auth).status_code == 404
    )


def test_the_secret_is_stored_under_the_key_box(
    api: Api, alice: User, pool: Pool, database_url: str
) -> None:
    _local_webhooks(api, pool)
    hook = api.client.post(
        "/api/v1/webhooks", headers=alice.auth, json={"url": "http://127.0.0.1:9/hook"}
    ).json()
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT secret_ciphertext, secret_key_id FROM webhook_endpoints WHERE id = %s",
            (hook["id"],),
        ).fetchone()
    assert row is not None
    assert row[1] == KEYBOX_KEY_ID
    assert hook["secret"].encode() not in bytes(row[0])
    assert api.services.cipher.decrypt(bytes(row[0])) == hook["secret"].encode()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1"),
        ("http://10.1.2.3/hook", "10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[::ffff:127.0.0.1]/hook", "127.0.0.1"),
        ("http://localhost:8080/hook", "127.0.0.1"),
        ("ftp://example.com/hook", "http"),
        ("http://user:pw@example.com/hook", "user"),
    ],
)
def test_registration_refuses_unsafe_urls_with_the_reason(
    api: Api, alice: User, url: str, reason: str
) -> None:
    response = api.client.post("/api/v1/webhooks", headers=alice.auth, json={"url": url})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"], response.json()
    assert api.client.get("/api/v1/webhooks", headers=alice.auth).json() == []


def test_registration_refuses_bad_levels_and_unknown_fields(api: Api, alice: User) -> None:
    for body in (
        {"url": "https://example.com/hook", "levels": [4]},
        {"url": "https://example.com/hook", "levels": [True]},
        {"url": "https://example.com/hook", "levels": ["3"]},
        {"url": "https://example.com/hook", "levels": []},
        {"url": "https://example.com/hook", "owner_id": alice.id},
    ):
        response = api.client.post("/api/v1/webhooks", headers=alice.auth, json=body)
        assert response.status_code == 422, (body, response.text)


def test_resend_of_a_level_3_alert_reaches_the_owners_webhook_signed(
    api: Api, alice: User, pool: Pool, stored: tuple[str, str, list[BreachEvent]]
) -> None:
    _, _, b = stored
    _local_webhooks(api, pool)
    with webhook_receiver() as receiver:
        hook = api.client.post(
            "/api/v1/webhooks", headers=alice.auth, json={"url": receiver.url}
        ).json()
        level1 = api.client.post(f"/api/v1/alerts/{b[0].breach_id}/resend", headers=alice.auth)
        assert level1.status_code == 422
        assert "level-3" in level1.json()["detail"]
        resent = api.client.post(f"/api/v1/alerts/{b[2].breach_id}/resend", headers=alice.auth)
        assert resent.status_code == 202, resent.text
        assert resent.json() == {"queued": 1}
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT event_id FROM webhook_deliveries WHERE event_id LIKE %s",
                (b[2].breach_id + "#resend-%",),
            ).fetchone()
        assert row is not None
        _drain(_worker(api, pool), pool, row[0])
        (got,) = receiver.successes()
        body = Webhook(hook["secret"]).verify(got.body, got.headers)
        assert body["type"] == "breach"
        assert body["data"]["breach_id"] == b[2].breach_id
        assert body["data"]["level"] == 3


def test_email_opt_in_is_per_user(api: Api, alice: User, bob: User, pool: Pool) -> None:
    url = "/api/v1/auth/me/alerts"
    assert api.client.get(url, headers=alice.auth).json() == {"email_level3": False}
    turned_on = api.client.put(url, headers=alice.auth, json={"email_level3": True})
    assert turned_on.status_code == 200
    assert turned_on.json() == {"email_level3": True}
    assert api.client.get(url, headers=alice.auth).json() == {"email_level3": True}
    assert api.client.get(url, headers=bob.auth).json() == {"email_level3": False}
    with pool.connection() as conn:
        rows: dict[str, bool] = dict(
            conn.execute(
                "SELECT id::text, email_alerts FROM users WHERE id::text = ANY (%s)",
                ([alice.id, bob.id],),
            ).fetchall()
        )
    assert rows == {alice.id: True, bob.id: False}
    for body in (
        {"email_level3": "yes please"},
        {"email_level3": 0},
        {"email_level3": "true"},
        {},
        {"email_level3": True, "user_id": bob.id},
    ):
        assert api.client.put(url, headers=alice.auth, json=body).status_code == 422
    assert api.client.get(url).status_code == 401
