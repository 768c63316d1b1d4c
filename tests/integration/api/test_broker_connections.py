"""Broker connections: credentials encrypted at rest and never returned or logged; only
the account's owner sees or deletes them; `aetheris secrets rotate` re-encrypts them and
the bridge keys under the newest key."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.brokers import PostgresBridge, PostgresBrokerConnections
from infra.db.migrate import Backend
from infra.db.pool import Pool, create_pool
from infra.secrets import SecretBox, SecretsError, new_key
from schemas.brokers import ConnectionCreate
from tests.integration.api.brokers_support import attach_brokers, create_account
from tests.integration.api.conftest import Api, User
from tests.integration.db.conftest import empty_database_url, migrated

__all__ = ["empty_database_url"]

TOKEN = "oanda-token-0123456789abcdef-SECRET"
CONNECTION = {
    "kind": "rest",
    "broker": "oanda",
    "label": "OANDA practice",
    "settings": {"broker_account": "101-004-1234567-001", "api_url": "http://127.0.0.1:9"},
    "credentials": {"api_token": TOKEN},
}


@pytest.fixture
def brokers_api(
    api: Api, pool: Pool, kafka: KafkaBus, topics: Topics, redis_url: str
) -> Iterator[Api]:
    attach_brokers(api, pool, kafka, topics, redis_url)
    yield api


def test_credentials_go_in_encrypted_and_never_come_back(
    brokers_api: Api, alice: User, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account_id = create_account(brokers_api, alice)
    created = brokers_api.client.post(
        f"/api/v1/accounts/{account_id}/brokers", headers=alice.auth, json=CONNECTION
    )
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["kind"] == "rest" and view["broker"] == "oanda"
    assert view["label"] == "OANDA practice"
    assert view["has_credentials"] is True
    assert view["sync_status"] == "pending"
    assert view["last_sync_at"] is None and view["last_error"] is None
    assert "credentials" not in view

    listed = brokers_api.client.get(f"/api/v1/accounts/{account_id}/brokers", headers=alice.auth)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == [view["id"]]
    for text in (created.text, listed.text, caplog.text):
        assert TOKEN not in text

    with pool.connection() as conn:
        row = conn.execute(
            "SELECT credentials_ciphertext, credentials_key_id, settings::text "
            "FROM broker_connections WHERE id = %s",
            (view["id"],),
        ).fetchone()
    assert row is not None
    ciphertext, key_id, settings = bytes(row[0]), row[1], row[2]
    assert TOKEN.encode() not in ciphertext and TOKEN not in settings
    box = brokers_api.services.cipher
    assert isinstance(box, SecretBox)
    assert key_id == box.newest_key_id
    stored = PostgresBrokerConnections(pool, box).with_credentials(view["id"])
    assert stored is not None and stored.credentials == {"api_token": TOKEN}

    same_label = brokers_api.client.post(
        f"/api/v1/accounts/{account_id}/brokers", headers=alice.auth, json=CONNECTION
    )
    assert same_label.status_code == 409


def test_another_users_connections_are_404_and_untouched(
    brokers_api: Api, alice: User, bob: User
) -> None:
    account_id = create_account(brokers_api, alice)
    created = brokers_api.client.post(
        f"/api/v1/accounts/{account_id}/brokers", headers=alice.auth, json=CONNECTION
    ).json()
    base = f"/api/v1/accounts/{account_id}/brokers"
    assert brokers_api.client.get(base, headers=bob.auth).status_code == 404
    assert brokers_api.client.post(base, headers=bob.auth, json=CONNECTION).status_code == 404
    assert brokers_api.client.delete(f"{base}/{created['id']}", headers=bob.auth).status_code == 404
    # bob's own account does not reach alice's connection either
    bobs = create_account(brokers_api, bob)
    through_own = brokers_api.client.delete(
        f"/api/v1/accounts/{bobs}/brokers/{created['id']}", headers=bob.auth
    )
    assert through_own.status_code == 404
    assert len(brokers_api.client.get(base, headers=alice.auth).json()) == 1
    assert brokers_api.client.get(base).status_code == 401

    deleted = brokers_api.client.delete(f"{base}/{created['id']}", headers=alice.auth)
    assert deleted.status_code == 204
    assert brokers_api.client.get(base, headers=alice.auth).json() == []
    again = brokers_api.client.delete(f"{base}/{created['id']}", headers=alice.auth)
    assert again.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {**CONNECTION, "kind": "telepathy"},
        {**CONNECTION, "owner_id": "00000000-0000-0000-0000-000000000000"},
        {**CONNECTION, "credentials": {"api_token": "x" * 5_000}},
        {**CONNECTION, "credentials": {f"k{i}": "v" for i in range(40)}},
        {**CONNECTION, "label": ""},
        {**CONNECTION, "label": "nul\u0000label"},
        {**CONNECTION, "settings": {"broker_account": "a\u0000b"}},
        {**CONNECTION, "settings": {"k\u0000": "v"}},
        {**CONNECTION, "credentials": {"api_token\u0000": "v"}},
        {**CONNECTION, "settings": {"broker_account": "0" * 3_000}},  # not coerced to 0
    ],
)
def test_bad_connection_bodies_are_422(brokers_api: Api, alice: User, body: object) -> None:
    account_id = create_account(brokers_api, alice)
    answer = brokers_api.client.post(
        f"/api/v1/accounts/{account_id}/brokers", headers=alice.auth, json=body
    )
    assert answer.status_code == 422, answer.text


def test_secrets_rotate_re_encrypts_broker_credentials_and_bridge_keys(
    empty_database_url: str, backend: Backend
) -> None:
    """On a database of its own: rotate stops at a secret no key reads, and the shared
    session database holds other tests' secrets under their own keys."""
    url = migrated(empty_database_url, backend)
    old, new = new_key(), new_key()
    own_pool = create_pool(url, size=1, name="rotate-test", application_name="rotate-test")
    try:
        with own_pool.connection() as conn:
            owner = conn.execute(
                "INSERT INTO users (email) VALUES ('rotate@example.com') RETURNING id"
            ).fetchone()
            assert owner is not None
            conn.execute(
                "INSERT INTO accounts (account_id, owner_id, ruleset, initial_balance, currency) "
                "VALUES ('ACC-ROTATE', %s, 'ftmo-2step', 100000, 'USD')",
                (owner[0],),
            )
        connections = PostgresBrokerConnections(own_pool, SecretBox([old]))
        stored = connections.create(owner[0], "ACC-ROTATE", ConnectionCreate(**CONNECTION))
        PostgresBridge(own_pool, SecretBox([old])).issue_key("ACC-ROTATE", "abk_rotate-me")

        env = {k: v for k, v in os.environ.items() if not k.startswith("AETHERIS_")}
        env.update(
            DATABASE_URL=url,
            AETHERIS_DB_TIMESCALE="off" if backend == "postgresql" else "require",
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
        assert "1 broker credentials re-encrypted" in done.stdout
        assert "1 bridge keys re-encrypted" in done.stdout
        assert TOKEN not in done.stdout + done.stderr

        only_new = SecretBox([new])
        again = PostgresBrokerConnections(own_pool, only_new).with_credentials(stored.id)
        assert again is not None and again.credentials == {"api_token": TOKEN}
        assert PostgresBridge(own_pool, only_new).key("ACC-ROTATE") == b"abk_rotate-me"
        with pytest.raises(SecretsError):
            PostgresBrokerConnections(own_pool, SecretBox([old])).with_credentials(stored.id)
        with own_pool.connection() as conn:
            key_id = conn.execute(
                "SELECT credentials_key_id FROM broker_connections WHERE id = %s", (stored.id,)
            ).fetchone()
        assert key_id == (only_new.newest_key_id,)
    finally:
        own_pool.close()
