"""Redis for integration tests: the real server, or a loud failure (never a skip).

The server is the one ``make test`` starts (127.0.0.1:6379) unless ``REDIS_URL`` names
another. Each test works under its own key prefix, and deletes its keys afterwards by
that prefix (never FLUSHDB: other tests share the server).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from infra.settings import get_settings


def redis_url_for_tests() -> str:
    return get_settings().redis_url or "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = redis_url_for_tests()
    client: redis.Redis[bytes] = redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=5
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable ({type(exc).__name__}: {exc}); start it with "
            "`bash scripts/services.sh redis` (make test does)",
            pytrace=False,
        )
    finally:
        client.close()
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis[bytes]]:
    client: redis.Redis[bytes] = redis.Redis.from_url(
        redis_url, socket_timeout=5, socket_connect_timeout=5
    )
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis[bytes]) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        redis_client.delete(*keys)
