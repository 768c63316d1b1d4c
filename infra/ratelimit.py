"""Rate limits with the ``limits`` package: a moving window per (rule, identifiers),
kept in Redis so every API process counts together (in memory for the embedded demo)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter


class RateLimitError(ValueError):
    """A rate-limit setting is not in the ``limits`` notation ("10/minute")."""


def parse_limit(text: str, *, name: str) -> RateLimitItem:
    try:
        return parse(text)
    except ValueError:
        raise RateLimitError(
            f"{name}: {text!r} is not a rate limit (write it like '10/minute' or '100/hour')"
        ) from None


class RateLimiter:
    """``hit`` counts one attempt and says how long to wait when over the limit."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._prefix = prefix
        self.storage = storage

    @classmethod
    def redis(cls, url: str, prefix: str, *, timeout: float = 2.0) -> RateLimiter:
        storage = RedisStorage(
            url,
            key_prefix=f"{prefix}:ratelimit",
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        return cls(storage, prefix)

    @classmethod
    def memory(cls, prefix: str = "aetheris") -> RateLimiter:
        return cls(MemoryStorage(), prefix)

    def hit(self, limit: RateLimitItem, *identifiers: str) -> float | None:
        """Count one attempt; ``None`` when allowed, else the seconds until one is."""
        if self._limiter.hit(limit, self._prefix, *identifiers):
            return None
        stats = self._limiter.get_window_stats(limit, self._prefix, *identifiers)
        return max(1.0, math.ceil(stats.reset_time - time.time()))
