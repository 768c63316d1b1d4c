"""Retrying a unit of database work across lost connections, with capped backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from psycopg.rows import TupleRow

from infra.db.errors import SinkUnavailableError
from infra.db.pool import Pool

T = TypeVar("T")
_log = logging.getLogger("aetheris.db")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: ``attempts`` tries, delays doubling from
    ``first_delay`` up to ``max_delay`` seconds (about 45 s of waiting by default)."""

    attempts: int = 12
    first_delay: float = 0.05
    max_delay: float = 10.0

    def delays(self) -> Iterator[float]:
        """The pauses between attempts (one fewer than ``attempts``)."""
        delay = self.first_delay
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * 2, self.max_delay)


def is_retryable(error: BaseException) -> bool:
    """Connection loss, server shutdown, pool timeout, deadlock or serialization failure.

    psycopg raises all of these as ``OperationalError`` (the pool timeout and the
    transaction-rollback class included). Bad data (integrity, data, programming errors)
    is not retried: it would fail the same way again.
    """
    return isinstance(error, psycopg.OperationalError)


def run_with_retry(
    pool: Pool,
    work: Callable[[psycopg.Connection[TupleRow]], T],
    *,
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``work`` in one transaction on a pooled connection, again on a fresh connection
    after a retryable failure. The pool commits when ``work`` returns and discards a
    broken connection. Raises :class:`SinkUnavailableError` when every attempt failed.

    ``work`` must be safe to run again after a failure whose commit may have landed
    (the sinks make it so with upserts and a ledger of committed batches).
    """
    delays = policy.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            with pool.connection() as conn:
                return work(conn)
        except psycopg.Error as exc:
            if not is_retryable(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise SinkUnavailableError(
                    f"{what}: not stored after {attempt} attempts; last error: {exc}"
                ) from exc
            _log.warning(
                "%s: attempt %d failed (%s); retrying in %.2fs",
                what,
                attempt,
                type(exc).__name__,
                delay,
            )
            sleep(delay)
