"""The bridge signature: HMAC-SHA256 over "<timestamp>." + body, checked in constant
time; stale or future timestamps refused; unknown accounts read like wrong signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from api.bridgeauth import BridgeAuthError, check_timestamp, new_bridge_key, sign, verify

NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
KEY = b"abk_test-key"
BODY = b'{"batch_id":"batch-0001"}'


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(KEY, f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(KEY, TS, BODY) == "v1=" + expected
    verify(KEY, TS, BODY, "v1=" + expected)
    verify(KEY, TS, BODY, "V1=" + expected.upper())  # hex case does not matter


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "v1=" + "0" * 64,
        sign(b"abk_another-key", TS, BODY),  # another account's key
        sign(KEY, str(int(TS) + 1), BODY),  # signed for another time
        sign(KEY, TS, BODY + b" "),  # body changed after signing
        "v1=é" * 10,  # not ASCII
    ],
)
def test_anything_but_the_exact_signature_is_refused(signature: str | None) -> None:
    with pytest.raises(BridgeAuthError, match="does not verify"):
        verify(KEY, TS, BODY, signature)


def test_an_unknown_account_reads_like_a_wrong_signature() -> None:
    with pytest.raises(BridgeAuthError, match="does not verify"):
        verify(None, TS, BODY, sign(KEY, TS, BODY))


@pytest.mark.parametrize(
    ("timestamp", "ok"),
    [
        (TS, True),
        (str(int(TS) - 300), True),  # exactly the window
        (str(int(TS) - 301), False),  # stale
        (str(int(TS) + 301), False),  # from the future
        ("", False),
        ("12.5", False),
        ("-5", False),
        ("9" * 20, False),
    ],
)
def test_timestamps_outside_the_window_are_refused(timestamp: str, ok: bool) -> None:
    if ok:
        check_timestamp(timestamp, NOW, 300)
    else:
        with pytest.raises(BridgeAuthError):
            check_timestamp(timestamp, NOW, 300)


def test_keys_are_fresh_and_fit_one_sha256_block() -> None:
    keys = {new_bridge_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(k.startswith("abk_") and len(k.encode()) <= 64 for k in keys)
