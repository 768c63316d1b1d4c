"""Endpoint secrets at rest: encrypted by the application before they reach the database.

The repository needs only :class:`SecretCipher` (``encrypt``/``decrypt`` of bytes). The
default, :func:`cipher_from_secret_key`, is Fernet under a key derived (HKDF-SHA256) from
``AETHERIS_SECRET_KEY`` with a label of its own, so it never equals a key used elsewhere.
"""

from __future__ import annotations

import base64
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

KEY_ID = "hkdf-secret-key-v1"
_LABEL = b"aetheris webhook endpoint secrets v1"


class CipherError(ValueError):
    """No key is configured, or a stored secret does not decrypt with it."""


class SecretCipher(Protocol):
    """Encrypts secrets for storage; ``decrypt`` raises a ``ValueError`` it cannot read."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


class FernetCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) under one key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise CipherError(
                "a stored webhook secret does not decrypt with the configured key "
                "(was AETHERIS_SECRET_KEY changed?)"
            ) from None


def cipher_from_secret_key(secret_key: SecretStr | None) -> FernetCipher:
    """The webhook-secret cipher derived from ``AETHERIS_SECRET_KEY``."""
    material = secret_key.get_secret_value().encode("utf-8") if secret_key else b""
    if len(material) < 16:
        raise CipherError(
            "AETHERIS_SECRET_KEY must be set (at least 16 characters) to store webhook secrets"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(material)
    return FernetCipher(base64.urlsafe_b64encode(derived))


KEYBOX_KEY_ID = "keybox"
"""``secret_key_id`` of a secret under the key box (``AETHERIS_ENCRYPTION_KEYS``)."""


class KeyBoxCipher:
    """Webhook secrets under the key box every other secret at rest uses
    (:class:`infra.secrets.SecretBox`, rotated by ``aetheris secrets rotate``).

    A secret stored before the key box took over (under the key derived from
    ``AETHERIS_SECRET_KEY``) still decrypts through ``legacy`` until rotation
    re-encrypts it.
    """

    def __init__(self, box: SecretCipher, legacy: SecretCipher | None = None) -> None:
        self._box = box
        self._legacy = legacy

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._box.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._box.decrypt(ciphertext)
        except ValueError:
            if self._legacy is None:
                raise
        try:
            return self._legacy.decrypt(ciphertext)
        except ValueError:
            raise CipherError(
                "a stored webhook secret decrypts with no key of AETHERIS_ENCRYPTION_KEYS "
                "(was a key removed before `aetheris secrets rotate`?)"
            ) from None
