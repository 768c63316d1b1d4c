"""Signatures verify with the Standard Webhooks library; retry delays by hand-worked numbers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import CipherError, cipher_from_secret_key
from infra.notify.signing import body_bytes, new_secret, signed_headers
from infra.notify.worker import email_text

BREACH = {
    "type": "breach",
    "data": {
        "type": "breach",
        "breach_id": "b-1",
        "account_id": "A1",
        "rule": "max_daily_loss",
        "level": 3,
        "ts": "2026-03-02T10:12:03Z",
        "value": 5150.0,
        "limit": 5000.0,
        "threshold": 94850.0,
        "message": "Daily loss 5,150.00 reached the limit 5,000.00",
    },
}


def test_a_signed_body_verifies_with_the_scheme_library() -> None:
    secret = new_secret()
    body = body_bytes(BREACH)
    headers = signed_headers(secret, "msg_abc", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == BREACH


def test_the_signature_is_hmac_sha256_of_id_timestamp_body_by_hand() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    at = datetime(2026, 3, 2, 10, 12, 3, tzinfo=UTC)
    body = b'{"type":"breach"}'
    headers = signed_headers(secret, "msg_1", at, body)
    assert headers["webhook-timestamp"] == "1772446323"
    expected = hmac.new(key, b"msg_1.1772446323." + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


def test_tampered_body_wrong_secret_and_stale_timestamp_fail_verification() -> None:
    secret = new_secret()
    body = body_bytes(BREACH)
    headers = signed_headers(secret, "msg_abc", datetime.now(UTC), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"5150.0", b"1.0"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_other"})
    old = signed_headers(secret, "msg_abc", datetime.now(UTC) - timedelta(minutes=10), body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, old)


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_naive_signing_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        signed_headers(new_secret(), "m", datetime(2026, 1, 1), b"{}")


def test_backoff_ceilings_double_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=2.0, cap_seconds=60.0, max_attempts=8)
    # 2, 4, 8, 16, 32, then 64 capped at 60
    assert [policy.ceiling(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    # full jitter: the draw scales the whole ceiling
    assert policy.delay(3, 0.5) == 4.0
    assert policy.delay(3, 0.0) == 0.0
    assert policy.delay(6, 0.25) == 15.0
    assert policy.ceiling(10_000) == 60.0  # no overflow far past the cap


def test_backoff_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=10.0, max_attempts=3)
    assert [policy.gives_up_after(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


@pytest.mark.parametrize("draw", [-0.1, 1.0, 2.0])
def test_backoff_rejects_draws_outside_unit_interval(draw: float) -> None:
    with pytest.raises(ValueError, match="draw"):
        RetryPolicy().delay(1, draw)


def test_backoff_rejects_bad_policies() -> None:
    with pytest.raises(ValueError, match="base_seconds"):
        RetryPolicy(base_seconds=10.0, cap_seconds=1.0)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="start at 1"):
        RetryPolicy().ceiling(0)


def test_secret_cipher_round_trip_and_wrong_key() -> None:
    cipher = cipher_from_secret_key(SecretStr("a" * 32))
    token = cipher.encrypt(b"whsec_xyz")
    assert b"whsec_xyz" not in token
    assert cipher.decrypt(token) == b"whsec_xyz"
    with pytest.raises(CipherError, match="does not decrypt"):
        cipher_from_secret_key(SecretStr("b" * 32)).decrypt(token)
    with pytest.raises(CipherError, match="AETHERIS_SECRET_KEY"):
        cipher_from_secret_key(None)
    with pytest.raises(CipherError, match="at least 16"):
        cipher_from_secret_key(SecretStr("short"))


def test_alert_email_names_account_rule_and_numbers() -> None:
    data = BREACH["data"]
    assert isinstance(data, dict)
    subject, text = email_text(data)
    assert subject == "AETHERIS: max daily loss breached on account A1"
    assert "Daily loss 5,150.00 reached the limit 5,000.00" in text
    assert "Used:      5150.0" in text
    assert "Limit:     5000.0" in text
    assert "Threshold: 94850.0" in text
    assert "Breach id: b-1" in text
