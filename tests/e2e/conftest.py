"""End-to-end tests reuse the storage tests' check that PostgreSQL is reachable."""

from tests.integration.db.conftest import admin_url

__all__ = ["admin_url"]
