"""The security module on its own: password hashes, access tokens, TOTP steps, recovery
codes, and the secrets box, with worked examples (RFC 6238's own test vector)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pyotp
import pytest

from api.hardening import origin_allowed
from api.security import (
    AccessClaims,
    AccessTokens,
    InvalidAccessToken,
    Passwords,
    WeakSecretError,
    check_secret_key,
    new_recovery_codes,
    normalise_recovery_code,
    password_problem,
    qr_svg,
    totp_step,
    totp_uri,
)
from infra.secrets import SecretBox, SecretsError, new_key, parse_keys
from schemas.api import decode_cursor, encode_cursor, parse_trade_id, trade_id

KEY = "k" * 20 + "0123456789abcdefghij"
# RFC 6238 appendix B: the SHA-1 secret "12345678901234567890" at T = 59 s gives 94287082
# (8 digits); its last six digits, 287082, are the 6-digit code of step 1.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_argon2id_with_the_owasp_parameters_by_default() -> None:
    passwords = Passwords()
    stored = passwords.hash("a long passphrase")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify(stored, "a long passphrase")
    assert not passwords.verify(stored, "a long passphrasE")
    assert not passwords.verify(None, "a long passphrase")
    assert not passwords.verify("not a hash", "a long passphrase")
    assert not passwords.needs_rehash(stored)
    assert Passwords(memory_kib=1_024, time_cost=1).needs_rehash(stored)


def test_password_rules() -> None:
    assert password_problem("short", "a@b.co") is not None
    assert password_problem("zzzzzzzzzzzz", "a@b.co") is not None
    assert password_problem("trader.one.x", "trader.one.x@example.com") is not None
    assert password_problem("correct horse battery", "a@b.co") is None


def test_the_signing_key_must_be_long_and_varied() -> None:
    with pytest.raises(WeakSecretError, match="not set"):
        check_secret_key(None)
    with pytest.raises(WeakSecretError, match="too weak"):
        check_secret_key("short-key")
    with pytest.raises(WeakSecretError, match="too weak"):
        check_secret_key("a" * 64)
    assert check_secret_key(KEY) == KEY


def test_access_tokens_round_trip_and_pin_everything() -> None:
    tokens = AccessTokens(KEY, issuer="iss", audience="aud", lifetime=timedelta(minutes=15))
    claims = AccessClaims(user_id=uuid4(), session_id=uuid4())
    assert tokens.read(tokens.issue(claims)) == claims
    issued = datetime.now(UTC) - timedelta(minutes=16)
    with pytest.raises(InvalidAccessToken):
        tokens.read(tokens.issue(claims, issued))  # expired 1 minute ago
    other = AccessTokens(KEY, issuer="other", audience="aud", lifetime=timedelta(minutes=15))
    with pytest.raises(InvalidAccessToken):
        tokens.read(other.issue(claims))
    payload = jwt.decode(tokens.issue(claims), options={"verify_signature": False})
    unsigned = jwt.encode(payload, "", algorithm="none")
    with pytest.raises(InvalidAccessToken):
        tokens.read(unsigned)
    with pytest.raises(InvalidAccessToken):
        tokens.read(jwt.encode({**payload, "sub": "not-a-uuid"}, KEY, algorithm="HS256"))


def test_totp_step_against_the_rfc_6238_vector() -> None:
    at_59s = datetime(1970, 1, 1, 0, 0, 59, tzinfo=UTC)
    assert pyotp.TOTP(RFC_SECRET).at(at_59s) == "287082"
    assert totp_step(RFC_SECRET, "287082", at_59s) == 1
    assert totp_step(RFC_SECRET, "287 082", at_59s) == 1
    # One step of drift either way: at T = 89 s (step 2) the step-1 code still counts...
    assert totp_step(RFC_SECRET, "287082", at_59s + timedelta(seconds=30)) == 1
    # ...at T = 119 s (step 3) it does not.
    assert totp_step(RFC_SECRET, "287082", at_59s + timedelta(seconds=60)) is None
    assert totp_step(RFC_SECRET, "28708", at_59s) is None
    assert totp_step(RFC_SECRET, "abcdef", at_59s) is None


def test_enrolment_uri_and_qr_code() -> None:
    uri = totp_uri(RFC_SECRET, "trader@example.com")
    assert uri == (
        f"otpauth://totp/AETHERIS:trader%40example.com?secret={RFC_SECRET}&issuer=AETHERIS"
    )
    svg = qr_svg(uri)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_recovery_codes_are_random_and_normalised() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    assert all(len(code) == 19 and code.count("-") == 3 for code in codes)
    assert normalise_recovery_code(codes[0].lower().replace("-", " ")) == codes[0].replace("-", "")
    assert normalise_recovery_code("123456") is None
    assert normalise_recovery_code("0000-0000-0000-0000") is None  # 0 is not in the alphabet


def test_secret_box_rotation_to_a_new_key() -> None:
    old, new = new_key(), new_key()
    ciphertext = SecretBox([old]).encrypt(b"JBSWY3DPEHPK3PXP")
    both = SecretBox([new, old])
    assert both.decrypt(ciphertext) == b"JBSWY3DPEHPK3PXP"
    rotated = both.rotate(ciphertext)
    assert SecretBox([new]).decrypt(rotated) == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(SecretsError, match="cannot be decrypted"):
        SecretBox([new]).decrypt(ciphertext)


def test_encryption_keys_are_checked_without_showing_them() -> None:
    with pytest.raises(SecretsError, match="not set"):
        parse_keys(None)
    with pytest.raises(SecretsError, match="key 2 of 2") as error:
        parse_keys(f"{new_key()}, not-a-key-at-all")
    assert "not-a-key-at-all" not in str(error.value)
    assert len(parse_keys(f" {new_key()} ,{new_key()}")) == 2


def test_trade_ids_and_cursors_round_trip_and_refuse_forgeries() -> None:
    assert parse_trade_id(trade_id("acc_1", "T/1 x")) == ("acc_1", "T/1 x")
    assert parse_trade_id("!!!!") is None
    assert parse_trade_id("QUJD") is None  # "ABC": no separator
    moment = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "T-1")) == (moment, "T-1")
    assert decode_cursor("abc") is None
    assert decode_cursor(encode_cursor(moment, "T-1")[:-3]) is None


def test_origins() -> None:
    allowed = ("https://desk.example",)
    assert origin_allowed(None, "api.example", allowed)
    assert origin_allowed("https://desk.example", "api.example", allowed)
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", allowed)
    assert not origin_allowed("https://evil.example", "api.example", allowed)
