"""``aetheris secrets``: encryption keys for secrets at rest.

``new-key`` prints a fresh key. To rotate, put the new key first in
``AETHERIS_ENCRYPTION_KEYS`` (old keys after it), run ``rotate`` to re-encrypt every
stored secret with it (TOTP secrets and webhook signing secrets), then drop the old keys.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.db.pool import Pool
    from infra.secrets import SecretBox
    from infra.settings import Settings

Rotatable = tuple[Callable[[], Iterator[tuple[Any, bytes]]], Callable[[Any, bytes, bytes], bool]]


def new_key(_: argparse.Namespace) -> int:
    from infra.secrets import new_key as make_key  # noqa: PLC0415

    print(make_key())
    return 0


def rotate(_: argparse.Namespace) -> int:
    from infra.db.brokers import PostgresBridge, PostgresBrokerConnections  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.db.users import PostgresUsers  # noqa: PLC0415
    from infra.secrets import SecretBox, SecretsError, parse_keys  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    try:
        box = SecretBox(parse_keys(settings.encryption_keys))
    except SecretsError as exc:
        print(f"aetheris secrets rotate: {exc}", file=sys.stderr)
        return 2
    counts: dict[str, list[int]] = {}
    with open_database(settings, name="aetheris-secrets") as database:
        users = PostgresUsers(database.pool)
        connections = PostgresBrokerConnections(database.pool, box)
        bridge = PostgresBridge(database.pool, box)
        stores: list[tuple[str, Rotatable]] = [
            ("TOTP secrets", (users.totp_ciphertexts, users.replace_totp_ciphertext)),
            ("broker credentials", (connections.ciphertexts, connections.replace_ciphertext)),
            ("bridge keys", (bridge.ciphertexts, bridge.replace_ciphertext)),
        ]
        for what, (read, replace) in stores:
            done = counts.setdefault(what, [0, 0])
            for owner, ciphertext in read():
                try:
                    fresh = box.rotate(ciphertext)
                except SecretsError as exc:
                    print(f"aetheris secrets rotate: {what} of {owner}: {exc}", file=sys.stderr)
                    return 1
                # False: changed meanwhile (re-enrolled, re-issued): under the new key already
                done[0 if replace(owner, ciphertext, fresh) else 1] += 1
        try:
            hooks, hooks_skipped = _rotate_webhook_secrets(database.pool, box, settings)
        except SecretsError as exc:
            print(f"aetheris secrets rotate: {exc}", file=sys.stderr)
            return 1
        counts["webhook secrets"] = [hooks, hooks_skipped]
    parts = [
        f"{rotated} {what} re-encrypted"
        + (f" ({skipped} changed meanwhile, left as they are)" if skipped else "")
        for what, (rotated, skipped) in counts.items()
    ]
    print("secrets rotate: " + ", ".join(parts) + " with the newest key")
    return 0


def _rotate_webhook_secrets(pool: Pool, box: SecretBox, settings: Settings) -> tuple[int, int]:
    """Re-encrypt every webhook endpoint's secret with the newest key, including secrets
    stored under the older key derived from ``AETHERIS_SECRET_KEY``; (done, skipped)."""
    from infra.notify import repository as repo  # noqa: PLC0415
    from infra.notify.cipher import (  # noqa: PLC0415
        KEYBOX_KEY_ID,
        CipherError,
        FernetCipher,
        KeyBoxCipher,
        cipher_from_secret_key,
    )
    from infra.secrets import SecretsError  # noqa: PLC0415

    legacy: FernetCipher | None
    try:
        legacy = cipher_from_secret_key(settings.secret_key)
    except CipherError:
        legacy = None
    reader = KeyBoxCipher(box, legacy)
    done = skipped = 0
    with pool.connection() as conn:
        for endpoint_id, ciphertext, _ in repo.endpoint_secrets(conn):
            try:
                fresh = box.encrypt(reader.decrypt(ciphertext))
            except ValueError:
                raise SecretsError(
                    f"webhook {endpoint_id}: its secret decrypts with no configured key"
                ) from None
            with conn.transaction():
                if repo.replace_endpoint_secret(
                    conn, endpoint_id, ciphertext, fresh, KEYBOX_KEY_ID
                ):
                    done += 1
                else:
                    skipped += 1
    return done, skipped


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "secrets", help="encryption keys for secrets at rest", description=__doc__
    )
    commands = parser.add_subparsers(dest="secrets_command", metavar="SUBCOMMAND", required=True)
    commands.add_parser("new-key", help="print a new encryption key").set_defaults(func=new_key)
    commands.add_parser(
        "rotate", help="re-encrypt stored secrets with the first key of AETHERIS_ENCRYPTION_KEYS"
    ).set_defaults(func=rotate)
