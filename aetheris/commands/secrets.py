"""``aetheris secrets``: encryption keys for secrets at rest.

``new-key`` prints a fresh key. To rotate, put the new key first in
``AETHERIS_ENCRYPTION_KEYS`` (old keys after it), run ``rotate`` to re-encrypt every
stored secret with it, then drop the old keys.
"""

from __future__ import annotations

import argparse
import sys


def new_key(_: argparse.Namespace) -> int:
    from infra.secrets import new_key as make_key  # noqa: PLC0415

    print(make_key())
    return 0


def rotate(_: argparse.Namespace) -> int:
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
    rotated = skipped = 0
    with open_database(settings, name="aetheris-secrets") as database:
        users = PostgresUsers(database.pool)
        for user_id, ciphertext in users.totp_ciphertexts():
            try:
                fresh = box.rotate(ciphertext)
            except SecretsError as exc:
                print(f"aetheris secrets rotate: user {user_id}: {exc}", file=sys.stderr)
                return 1
            if users.replace_totp_ciphertext(user_id, ciphertext, fresh):
                rotated += 1
            else:
                skipped += 1  # changed meanwhile (re-enrolled): already under the new key
    print(
        f"secrets rotate: {rotated} TOTP secrets re-encrypted with the newest key"
        + (f", {skipped} changed meanwhile and left as they are" if skipped else "")
    )
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
