"""Fixtures shared by every suite.

The database suite (tests/integration/db) runs each test on both backends through its own
parametrized ``backend`` fixture. Suites that only need *a* database (the API, imports,
the demo) import the database fixtures and get plain PostgreSQL from this one.
"""

from __future__ import annotations

import pytest

from infra.db.migrate import Backend


@pytest.fixture(scope="session")
def backend() -> Backend:
    """Plain PostgreSQL, outside the database suite."""
    return "postgresql"
