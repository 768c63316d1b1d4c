"""``aetheris secrets``: encryption keys for secrets at rest.

``new-key`` prints a fresh key. To rotate, put the new key first in
``AETHERIS_ENCRYPTION_KEYS`` (old keys after it), run ``rotate`` to re-encrypt every
stored secret with it, then drop the old keys.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import Any

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
    parts = [
        f"{rotated} {what} re-encrypted"
        + (f" ({skipped} changed meanwhile, left as they are)" if skipped else "")
        for what, (rotated, skipped) in counts.items()
    ]
    print("secrets rotate: " + ", ".join(parts) + " with the newest key")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "secrets", help="encryption keys for secrets at rest", description=__doc__
    )
    commands = parser.add_subparsers(dest="secrets_command", metavar="SUBCOMMAND", required=True)
    commands.add_parser("new-key", help="print a new encryption key").set_defaults(func=new_key)
    commands.add_parser(
        "rotate", help="re-encrypt stored secrets with the first key of AETHERIS_ENCRYPTION_KEYS"
    ).set_defaults(func=rotate)
