"""End-to-end tests run on the plain PostgreSQL server, checked before they start (they
fail with the reason when it is down, never skip)."""

from __future__ import annotations

import psycopg
import pytest

from infra.db.pool import redact_url
from tests.integration.db.conftest import ADMIN_URL


@pytest.fixture(scope="session")
def admin_url() -> str:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {redact_url(ADMIN_URL)} ({exc}); start it with "
            "`bash scripts/services.sh postgres`",
            pytrace=False,
        )
    return ADMIN_URL
