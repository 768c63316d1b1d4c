"""Live-standing integration tests against the real Redis."""

from __future__ import annotations

import pytest

from tests.integration.live.fixtures import redis_client, redis_prefix, redis_url

__all__ = ["redis_client", "redis_prefix", "redis_url"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration/live" in str(item.path):
            item.add_marker(pytest.mark.integration)
