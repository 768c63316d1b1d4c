"""End-to-end tests reuse the storage tests' check that PostgreSQL is reachable (the
plain server: the demo runs on plain PostgreSQL, as the embedded one is)."""

import pytest

from tests.integration.db.conftest import reachable_admin_url


@pytest.fixture(scope="session")
def admin_url() -> str:
    return reachable_admin_url("postgresql")
