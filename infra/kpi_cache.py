"""Computed KPI documents, cached by a key that names the history they were computed from.

The metrics route computes KPIs with polars in tens of milliseconds; a dashboard asks
for the same range again and again. The key (made by the caller) holds a fingerprint of
the stored trades and ticks, so new history makes a new key: nothing is invalidated, an
entry is only ever right or unused, and it expires after ``ttl_seconds``. Redis serves
every API replica; the in-memory twin is the embedded default. A cache that fails is
skipped (logged): the KPIs are computed instead.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Protocol

import redis

log = logging.getLogger(__name__)


class KpiCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, document: bytes) -> None: ...


class RedisKpiCache:
    """``{prefix}:kpis:{key}`` with a time to live."""

    def __init__(self, client: redis.Redis[bytes], prefix: str, ttl_seconds: int) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, key: str) -> str:
        return f"{self._prefix}:kpis:{key}"

    def get(self, key: str) -> bytes | None:
        try:
            return self._client.get(self._key(key))
        except redis.RedisError as exc:
            log.warning("KPI cache read failed, computing instead: %s", exc)
            return None

    def put(self, key: str, document: bytes) -> None:
        try:
            self._client.set(self._key(key), document, ex=self._ttl)
        except redis.RedisError as exc:
            log.warning("KPI cache write failed: %s", exc)


class MemoryKpiCache:
    """The in-process twin: the ``capacity`` most recently used documents."""

    def __init__(self, capacity: int = 1_000) -> None:
        self._capacity = capacity
        self._documents: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            document = self._documents.get(key)
            if document is not None:
                self._documents.move_to_end(key)
            return document

    def put(self, key: str, document: bytes) -> None:
        with self._lock:
            self._documents[key] = document
            self._documents.move_to_end(key)
            while len(self._documents) > self._capacity:
                self._documents.popitem(last=False)
