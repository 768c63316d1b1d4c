"""Webhook signing secrets under the key box (``AETHERIS_ENCRYPTION_KEYS``): a secret
stored under the older key derived from ``AETHERIS_SECRET_KEY`` still signs, and
``aetheris secrets rotate`` re-encrypts both kinds with the newest key, in a database of
the test's own (rotation touches every row)."""

from __future__ import annotations

import os
import subprocess
import sys
from uuid import uuid4

import psycopg
import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from api.webhooks import WebhookService
from infra.db.pool import Pool
from infra.notify import repository as repo
from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import KEY_ID, KEYBOX_KEY_ID, KeyBoxCipher, cipher_from_secret_key
from infra.notify.http import WebhookHttpClient
from infra.notify.ssrf import SystemResolver, parse_allowed_networks
from infra.notify.worker import NotifyConfig, NotifyWorker
from infra.secrets import SecretBox, SecretsError, new_key
from tests.integration.notify_support import breach_event, make_account, make_user, webhook_receiver

LOCAL = parse_allowed_networks("127.0.0.0/8")
SECRET_KEY = "webhook-secrets-test-key-0123456789"


def _service(pool: Pool, cipher: KeyBoxCipher | None, *, legacy: bool = False) -> WebhookService:
    if legacy:  # as the notify branch stored secrets before the key box
        return WebhookService(
            pool,
            cipher=cipher_from_secret_key(SecretStr(SECRET_KEY)),
            resolver=SystemResolver(),
            allowed_networks=LOCAL,
        )
    assert cipher is not None
    return WebhookService(
        pool,
        cipher=cipher,
        resolver=SystemResolver(),
        allowed_networks=LOCAL,
        key_id=KEYBOX_KEY_ID,
    )


def _stored(url: str) -> dict[str, tuple[bytes, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id::text, secret_ciphertext, secret_key_id FROM webhook_endpoints"
        ).fetchall()
    return {row[0]: (bytes(row[1]), row[2]) for row in rows}


def test_an_older_secret_still_signs_through_the_key_box(own_pool: Pool, own_database: str) -> None:
    old_key = new_key()
    owner = make_user(own_database)
    with psycopg.connect(own_database, autocommit=True) as conn:
        account = make_account(conn, owner)
    box = KeyBoxCipher(SecretBox([old_key]), cipher_from_secret_key(SecretStr(SECRET_KEY)))
    with webhook_receiver() as receiver:
        older = _service(own_pool, None, legacy=True).register_webhook(owner, receiver.url, [3])
        assert _stored(own_database)[str(older.id)][1] == KEY_ID
        event = breach_event(account, level=3)
        with own_pool.connection() as conn, conn.transaction():
            assert (
                repo.queue_breach_webhooks(
                    conn,
                    account_id=account,
                    level=3,
                    event_id=event["breach_id"],
                    payload={"type": "breach", "data": event},
                )
                == 1
            )
        worker = NotifyWorker(
            pool=own_pool,
            bus=None,
            config=NotifyConfig(
                topic="unused",
                consumer=f"test-{uuid4().hex[:8]}",
                retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02, max_attempts=2),
                allowed_networks=LOCAL,
                lease_seconds=30.0,
                poll_seconds=0.05,
            ),
            cipher=box,
            resolver=SystemResolver(),
            http=WebhookHttpClient(timeout_seconds=5.0),
            mailer=None,
            rng=lambda: 0.0,
        )
        try:
            for _ in range(20):
                worker.deliver_once()
                if receiver.successes():
                    break
        finally:
            worker.close()
        (got,) = receiver.successes()
        assert Webhook(older.secret).verify(got.body, got.headers)["data"] == event
    # without the older key the key box cannot read it, and says what to do
    with pytest.raises(ValueError, match="AETHERIS_ENCRYPTION_KEYS"):
        KeyBoxCipher(SecretBox([old_key])).decrypt(_stored(own_database)[str(older.id)][0])


def test_secrets_rotate_re_encrypts_webhook_secrets_of_both_kinds(
    own_pool: Pool, own_database: str
) -> None:
    old, new = new_key(), new_key()
    owner = make_user(own_database)
    older = _service(own_pool, None, legacy=True).register_webhook(
        owner, "http://127.0.0.1:9/a", None
    )
    boxed = _service(own_pool, KeyBoxCipher(SecretBox([old]))).register_webhook(
        owner, "http://127.0.0.1:9/b", None
    )
    assert {kid for _, kid in _stored(own_database).values()} == {KEY_ID, KEYBOX_KEY_ID}

    env = {k: v for k, v in os.environ.items() if not k.startswith("AETHERIS_")}
    env.update(
        DATABASE_URL=own_database,
        AETHERIS_DB_TIMESCALE="off",
        AETHERIS_SECRET_KEY=SECRET_KEY,
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
    assert "2 webhook secrets" in done.stdout, done.stdout
    for secret in (older.secret, boxed.secret, new, old, SECRET_KEY):
        assert secret not in done.stdout + done.stderr

    stored = _stored(own_database)
    only_new = SecretBox([new])
    assert only_new.decrypt(stored[str(older.id)][0]) == older.secret.encode()
    assert only_new.decrypt(stored[str(boxed.id)][0]) == boxed.secret.encode()
    assert {kid for _, kid in stored.values()} == {KEYBOX_KEY_ID}
    with pytest.raises(SecretsError):
        SecretBox([old]).decrypt(stored[str(boxed.id)][0])

    # a secret no configured key reads: rotation stops with the endpoint named, exit 1
    stranger = _service(own_pool, KeyBoxCipher(SecretBox([new_key()]))).register_webhook(
        owner, "http://127.0.0.1:9/c", None
    )
    refused = subprocess.run(
        [sys.executable, "-m", "aetheris.cli", "secrets", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1
    assert f"webhook {stranger.id}" in refused.stderr
