"""Throw-away databases on a server: one per test session or benchmark run.

``scratch_database`` creates ``<prefix>_<random>`` through an admin connection, yields
its URL and drops it afterwards (even when other sessions are still connected).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import conninfo, sql

from infra.db.pool import connect


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointed at database ``name`` (a key=value connection string)."""
    return conninfo.make_conninfo(admin_url, dbname=name)


def drop_database(admin_url: str, name: str) -> None:
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def scratch_database(
    admin_url: str, *, prefix: str = "aetheris_scratch", keep: bool = False
) -> Iterator[str]:
    """A new, empty database for the duration of the block; dropped unless ``keep``."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(admin_url, name)
    finally:
        if not keep:
            drop_database(admin_url, name)
