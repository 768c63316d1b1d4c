"""Passwords, access tokens, refresh tokens, TOTP and recovery codes: the API's security
code in one small module on vetted libraries (argon2-cffi, PyJWT, pyotp, segno), no
hand-written crypto. Secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
import pyotp
import segno
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet: argon2id, 19 MiB of memory, 2 passes, 1 lane.
ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1

JWT_ALGORITHM = "HS256"
MIN_SECRET_KEY_LENGTH = 32
MIN_PASSWORD_LENGTH = 10
TOTP_ISSUER = "AETHERIS"
RECOVERY_CODE_COUNT = 10


class WeakSecretError(ValueError):
    """``AETHERIS_SECRET_KEY`` is missing or too weak to sign tokens."""


def check_secret_key(key: str | None) -> str:
    """The signing key if it is long and varied enough, else :class:`WeakSecretError`."""
    if not key:
        raise WeakSecretError(
            "AETHERIS_SECRET_KEY is not set: the API signs its access tokens with it; set it "
            'to a long random string, e.g. `python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"`'
        )
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 10:
        raise WeakSecretError(
            f"AETHERIS_SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random "
            'characters (e.g. `python -c "import secrets; print(secrets.token_urlsafe(48))"`)'
        )
    return key


def password_problem(password: str, email: str) -> str | None:
    """Why a new password is refused (``None`` when it is acceptable)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(set(password)) < 5:
        return "the password must use at least 5 different characters"
    if password.casefold() in (email.casefold(), email.split("@", 1)[0].casefold()):
        return "the password must not be the e-mail address"
    return None


class Passwords:
    """argon2id hashes; a hash made with older parameters is flagged for rehashing."""

    def __init__(
        self,
        *,
        memory_kib: int = ARGON2_MEMORY_KIB,
        time_cost: int = ARGON2_TIME_COST,
        parallelism: int = ARGON2_PARALLELISM,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Verified when the e-mail is unknown, so both answers take as long.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._decoy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    session_id: UUID


class InvalidAccessToken(ValueError):
    """Expired, tampered, unsigned, foreign or malformed."""


class AccessTokens:
    """HS256 JWTs with ``sub`` (user), ``sid`` (login session), ``iss``, ``aud``, ``iat``,
    ``exp`` and a random ``jti``; the algorithm is pinned, every claim is required."""

    def __init__(self, key: str, *, issuer: str, audience: str, lifetime: timedelta) -> None:
        self._key = check_secret_key(key)
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime

    def issue(self, claims: AccessClaims, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        payload = {
            "sub": str(claims.user_id),
            "sid": str(claims.session_id),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "exp": issued + self.lifetime,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(payload, self._key, algorithm=JWT_ALGORITHM)

    def read(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "sid", "iss", "aud", "iat", "exp"]},
                leeway=5,
            )
            return AccessClaims(user_id=UUID(payload["sub"]), session_id=UUID(payload["sid"]))
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise InvalidAccessToken(str(exc)) from None


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """What is stored of a refresh token or recovery code (SHA-256; they are high-entropy)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


# TOTP -----------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as a QR code, an inline SVG document any authenticator app can scan."""
    return segno.make(uri, error="m", micro=False).svg_inline(scale=4, border=2)


def totp_step(secret: str, code: str, now: datetime, *, drift_steps: int = 1) -> int | None:
    """The time step whose code ``code`` is, within ``drift_steps`` of ``now``, else ``None``.

    The caller stores the step and refuses any step not after it, so one code works once
    (RFC 6238 section 5.2), unlike a bare ``TOTP.verify``.
    """
    digits = code.strip().replace(" ", "")
    if not digits.isdigit() or len(digits) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in range(-drift_steps, drift_steps + 1):
        step = current + offset
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


# Recovery codes -------------------------------------------------------------------------

_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` codes of 16 characters (80 bits), shown as XXXX-XXXX-XXXX-XXXX."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def normalise_recovery_code(code: str) -> str | None:
    """The code without dashes and spaces, upper case; ``None`` if it cannot be one."""
    raw = code.replace("-", "").replace(" ", "").upper()
    if len(raw) != 16 or any(char not in _RECOVERY_ALPHABET for char in raw):
        return None
    return raw
