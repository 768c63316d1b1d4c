"""Connection pools and one-off connections to PostgreSQL (psycopg 3)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

Pool = ConnectionPool[psycopg.Connection[TupleRow]]


def create_pool(
    url: str,
    *,
    size: int = 4,
    name: str = "aetheris",
    application_name: str = "aetheris",
    timeout: float = 30.0,
) -> Pool:
    """An open pool of up to ``size`` connections; waits until the first one is ready.

    Idle connections are checked before they are handed out, so a connection the server
    dropped while it sat in the pool is replaced instead of failing the next batch.
    """
    pool: Pool = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        name=name,
        open=False,
        timeout=timeout,
        check=ConnectionPool.check_connection,
        kwargs={"application_name": application_name},
    )
    pool.open(wait=True, timeout=timeout)
    return pool


def connect(
    url: str, *, autocommit: bool = False, application_name: str = "aetheris"
) -> psycopg.Connection[TupleRow]:
    """One connection outside any pool (migrations, CLI commands, tests)."""
    return psycopg.connect(url, autocommit=autocommit, application_name=application_name)


_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The connection string with any password replaced by ``***`` (safe to print)."""
    if "://" not in url:
        return _KEYWORD_PASSWORD.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        if ":" in credentials:
            user = credentials.split(":", 1)[0]
            netloc = f"{user}:***@{host}"
    query = _KEYWORD_PASSWORD.sub(r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
