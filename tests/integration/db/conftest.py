"""The database suite runs on both backends: plain PostgreSQL and TimescaleDB.

``backend`` is a session fixture with two params, so every test that uses a database
runs once per backend (test ids end in ``[postgresql]`` / ``[timescaledb]``):

- ``postgresql``: the plain server on 127.0.0.1:5432 (``AETHERIS_TEST_PG_ADMIN_URL``),
  migrated with ``timescale="off"``;
- ``timescaledb``: the server with TimescaleDB preloaded on 127.0.0.1:5433
  (``AETHERIS_TEST_TIMESCALE_ADMIN_URL``), migrated with ``timescale="require"``.

Each session gets fresh scratch databases, dropped at the end. A server that is not
reachable fails every test here with the reason -- they are never skipped. Start both
with ``bash scripts/services.sh`` (it installs TimescaleDB when missing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from infra.db.database import prepare_database
from infra.db.migrate import Backend
from infra.db.pool import Pool, create_pool, redact_url
from infra.db.scratch import scratch_database

ADMIN_URL = os.environ.get(
    "AETHERIS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TIMESCALE_ADMIN_URL = os.environ.get(
    "AETHERIS_TEST_TIMESCALE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5433/postgres"
)
ADMIN_URLS: dict[Backend, str] = {"postgresql": ADMIN_URL, "timescaledb": TIMESCALE_ADMIN_URL}
_START = {
    "postgresql": "`bash scripts/services.sh postgres`",
    "timescaledb": "`bash scripts/services.sh timescale` (it installs TimescaleDB when missing)",
}


def reachable_admin_url(backend: Backend) -> str:
    """The backend's admin URL after checking the server answers (and, for TimescaleDB,
    preloads the library); fails the test with the reason and the fix otherwise."""
    url = ADMIN_URLS[backend]
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            preloaded = conn.execute(
                "SELECT 1 FROM pg_settings WHERE name LIKE 'timescaledb.%' LIMIT 1"
            ).fetchone()
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"the {backend} server is not reachable at {redact_url(url)} ({exc}); start it "
            f"with {_START[backend]} -- the storage tests need a real server",
            pytrace=False,
        )
    if backend == "timescaledb" and preloaded is None:
        pytest.fail(
            f"the server at {redact_url(url)} does not preload TimescaleDB "
            "(shared_preload_libraries); start the test server with "
            f"{_START['timescaledb']}",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session", params=["postgresql", "timescaledb"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Which backend this test runs on (every database test runs on both)."""
    chosen: Backend = request.param
    return chosen


@pytest.fixture(scope="session")
def admin_url(backend: Backend) -> str:
    return reachable_admin_url(backend)


def pause_timescale_jobs(url: str) -> int:
    """Unschedule the database's TimescaleDB policy jobs; returns how many.

    Tests run the jobs themselves (``CALL run_job``) when they check what the jobs do.
    A refresh by the server's scheduler at a random moment would move the aggregates'
    watermark to ``now() - 1 hour`` mid-test, and rows written below it -- the tests'
    history in 2026 -- would wait for the next refresh instead of being read raw.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
            "WHERE hypertable_schema = 'public'"
        ).fetchall()
    return len(rows)


def migrated(url: str, backend: Backend) -> str:
    """Migrate ``url`` for ``backend`` (TimescaleDB: policy jobs paused, see above)."""
    report = prepare_database(url, timescale="off" if backend == "postgresql" else "require")
    assert report.backend == backend
    if backend == "timescaledb":
        assert pause_timescale_jobs(url) >= 4  # 2 refresh, compression, retention
    return url


@pytest.fixture(scope="session")
def database_url(admin_url: str, backend: Backend) -> Iterator[str]:
    """The session's database on this backend, migrated."""
    with scratch_database(admin_url, prefix="aetheris_test") as url:
        yield migrated(url, backend)


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
