"""Standard Webhooks signatures, made with the scheme's own ``standardwebhooks`` package.

A secret is ``whsec_`` + the base64 of 32 random bytes, the form the scheme's libraries
take as it is. The signature covers ``webhook-id.webhook-timestamp.body``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The request body: compact JSON, keys in a fixed order (what is signed is what is sent)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signed_headers(secret: str, message_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers."""
    if at.tzinfo is None:
        raise ValueError("the signing time must be timezone-aware")
    at_utc = at.astimezone(UTC)
    signature = Webhook(secret).sign(message_id, at_utc, body.decode("utf-8"))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at_utc.timestamp())),
        "webhook-signature": signature,
    }
