"""The MetaTrader bridge's request signature: HMAC-SHA256 over ``"<timestamp>." + body``
with the account's bridge key, checked in constant time; stale timestamps refused.

Headers the EA sends:

- ``X-Aetheris-Account``: the account id;
- ``X-Aetheris-Timestamp``: Unix seconds (UTC) when the batch was signed;
- ``X-Aetheris-Signature``: ``v1=`` + the lowercase hex HMAC-SHA256.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

SIGNATURE_PREFIX = "v1="
KEY_PREFIX = "abk_"
# A key never longer than one SHA-256 block (64 bytes), so the EA's HMAC needs no
# key hashing step.
_DUMMY_KEY = b"abk_" + b"0" * 43


class BridgeAuthError(ValueError):
    """The request is not signed by the account's current bridge key, or not now."""


def new_bridge_key() -> str:
    """A fresh key: ``abk_`` + 43 URL-safe characters (256 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` signed at ``timestamp``."""
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def check_timestamp(timestamp: str | None, now: datetime, window: float) -> None:
    """Refuse a missing, malformed or out-of-window timestamp (either direction)."""
    if not timestamp or len(timestamp) > 12 or not timestamp.isdigit():
        raise BridgeAuthError("X-Aetheris-Timestamp must be Unix seconds")
    age = now.timestamp() - int(timestamp)
    if abs(age) > window:
        raise BridgeAuthError(
            f"the batch's timestamp is {abs(age):.0f} s from the server's clock (more than "
            f"{window:.0f} s): check the terminal's clock, then send it again freshly signed"
        )


def verify(key: bytes | None, timestamp: str, body: bytes, signature: str | None) -> None:
    """Raise unless ``signature`` is the HMAC of ``timestamp`` and ``body`` under ``key``.

    An unknown account is checked against a dummy key, so its answer takes as long and
    reads the same as a wrong signature's.
    """
    expected = sign(key if key is not None else _DUMMY_KEY, timestamp, body)
    given = (signature or "").strip().lower()
    matches = hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))
    if key is None or not matches:
        raise BridgeAuthError("the batch's signature does not verify")
