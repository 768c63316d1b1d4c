"""The Expert Advisor's source agrees with the server: the JSON keys it writes are the
batch's fields, the headers and path are the route's, and its HMAC construction (a key
of at most one block, zero-padded, ipad/opad) is HMAC-SHA256 for every key we issue."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from api.bridgeauth import new_bridge_key, sign
from connectors.metatrader.bridge import BridgeBatch, BridgeDeal, EquitySnapshot

ROOT = Path(__file__).resolve().parents[3]
EA = (ROOT / "connectors/metatrader/AetherisBridge.mq5").read_text(encoding="utf-8")


def test_every_json_key_the_ea_writes_is_a_field_the_server_reads() -> None:
    keys = set(re.findall(r'\\"([a-z_]+)\\":', EA))
    known = set(BridgeBatch.model_fields) | set(BridgeDeal.model_fields)
    known |= set(EquitySnapshot.model_fields)
    assert keys, "no JSON keys found in the EA source"
    assert keys <= known, keys - known
    assert set(BridgeDeal.model_fields) <= keys  # and it sends every deal field


def test_the_ea_posts_to_the_route_with_its_headers() -> None:
    assert '"/api/v1/bridge/metatrader"' in EA
    for header in ("X-Aetheris-Account: ", "X-Aetheris-Timestamp: ", "X-Aetheris-Signature: v1="):
        assert f'"{header}' in EA
    assert "CRYPT_HASH_SHA256" in EA and "0x36" in EA and "0x5c" in EA


def ea_hmac(key: bytes, message: bytes) -> str:
    """The EA's construction, step by step."""
    padded = key + b"\0" * (64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in padded) + inner).hexdigest()


def test_the_eas_hmac_construction_is_hmac_sha256_for_our_keys() -> None:
    body = b'{"batch_id":"mt5-1-2-3","deals":[]}'
    for _ in range(20):
        key = new_bridge_key().encode()
        assert len(key) <= 64
        assert "v1=" + ea_hmac(key, b"1772442000." + body) == sign(key, "1772442000", body)
        assert ea_hmac(key, b"x") == hmac.new(key, b"x", hashlib.sha256).hexdigest()
