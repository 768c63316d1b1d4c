"""A fresh PostgreSQL database per test session on 127.0.0.1:5432, dropped at the end.

PostgreSQL must be running (``bash scripts/services.sh postgres``); when it is not,
every test here fails with the reason -- they are never skipped.
``AETHERIS_TEST_PG_ADMIN_URL`` points the tests at another server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from infra.db.database import prepare_database
from infra.db.pool import Pool, create_pool, redact_url
from infra.db.scratch import scratch_database

ADMIN_URL = os.environ.get(
    "AETHERIS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def admin_url() -> str:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {redact_url(ADMIN_URL)} ({exc}); start it with "
            "`bash scripts/services.sh postgres` -- the storage tests need a real server",
            pytrace=False,
        )
    return ADMIN_URL


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    """The session's database, migrated (plain PostgreSQL backend)."""
    with scratch_database(admin_url, prefix="aetheris_test") as url:
        prepare_database(url, timescale="off")
        yield url


@pytest.fixture(scope="session")
def pool(database_url: str) -> Iterator[Pool]:
    pool = create_pool(database_url, size=4, name="aetheris-test", application_name="aetheris-test")
    yield pool
    pool.close()


@pytest.fixture
def empty_database_url(admin_url: str) -> Iterator[str]:
    """A database of its own, not migrated: for migration tests."""
    with scratch_database(admin_url, prefix="aetheris_test_empty") as url:
        yield url


@pytest.fixture
def account() -> str:
    """An account id no other test uses, so tests share the session database safely."""
    return f"ACC-{uuid4().hex[:12]}"
