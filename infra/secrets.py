"""Secrets at rest: Fernet encryption with a list of keys, newest first (MultiFernet).

The first key encrypts; every key decrypts, so a new key can be put in front while old
ciphertexts still read, and :meth:`SecretBox.rotate` re-encrypts them with the new key.
"""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SecretsError(ValueError):
    """The keys are missing or malformed, or a ciphertext is not readable with them."""


def new_key() -> str:
    """A fresh Fernet key (URL-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(
    value: SecretStr | str | None, *, name: str = "AETHERIS_ENCRYPTION_KEYS"
) -> list[str]:
    """The comma-separated keys of a setting, checked; the message never shows a key."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    keys = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not keys:
        raise SecretsError(
            f"{name} is not set: give one or more Fernet keys, newest first, comma-separated "
            "(`aetheris secrets new-key` makes one)"
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise SecretsError(
                f"{name}: key {position} of {len(keys)} is not a Fernet key (32 bytes in "
                "URL-safe base64; `aetheris secrets new-key` makes one)"
            ) from None
    return keys


class SecretBox:
    """Encrypts with the newest key, decrypts with any, re-encrypts old ciphertexts."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretsError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        # Names the key a ciphertext was written with, without revealing it.
        self.newest_key_id = hashlib.sha256(keys[0].encode("ascii")).hexdigest()[:12]

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise SecretsError(
                "a stored secret cannot be decrypted with any configured key (was a key "
                "removed from AETHERIS_ENCRYPTION_KEYS before `aetheris secrets rotate`?)"
            ) from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same plaintext encrypted with the newest key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise SecretsError(
                "a stored secret cannot be decrypted with any configured key"
            ) from None
