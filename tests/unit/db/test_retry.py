"""Retrying database work: on connection loss again on a fresh connection, never on bad data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
import pytest

from infra.db.errors import SinkUnavailableError
from infra.db.pool import Pool
from infra.db.retry import RetryPolicy, is_retryable, run_with_retry


class FakePool:
    """Hands out numbered connections; records which ones were used."""

    def __init__(self) -> None:
        self.handed_out = 0

    @contextmanager
    def connection(self) -> Iterator[int]:
        self.handed_out += 1
        yield self.handed_out


def flaky(failures: int, error: Exception) -> tuple[list[int], Any]:
    used: list[int] = []

    def work(conn: int) -> str:
        used.append(conn)
        if len(used) <= failures:
            raise error
        return f"stored on connection {conn}"

    return used, work


def test_the_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, first_delay=0.5, max_delay=3.0)
    assert list(policy.delays()) == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_lost_connection_is_retried_on_a_fresh_one() -> None:
    pool = FakePool()
    pauses: list[float] = []
    used, work = flaky(2, psycopg.OperationalError("server closed the connection"))

    result = run_with_retry(
        cast(Pool, pool),
        work,
        policy=RetryPolicy(attempts=5, first_delay=0.1),
        what="batch",
        sleep=pauses.append,
    )

    assert result == "stored on connection 3"
    assert used == [1, 2, 3]
    assert pauses == [0.1, 0.2]


def test_bad_data_is_raised_at_once() -> None:
    pauses: list[float] = []
    used, work = flaky(1, psycopg.errors.CheckViolation("violates check constraint"))

    with pytest.raises(psycopg.errors.CheckViolation):
        run_with_retry(
            cast(Pool, FakePool()), work, policy=RetryPolicy(), what="batch", sleep=pauses.append
        )
    assert (used, pauses) == ([1], [])


def test_giving_up_says_what_was_not_stored() -> None:
    used, work = flaky(99, psycopg.OperationalError("connection refused"))

    with pytest.raises(SinkUnavailableError, match="batch 7: not stored after 3 attempts"):
        run_with_retry(
            cast(Pool, FakePool()),
            work,
            policy=RetryPolicy(attempts=3),
            what="batch 7",
            sleep=lambda _: None,
        )
    assert len(used) == 3


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.SerializationFailure("could not serialize"), True),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (psycopg.errors.UndefinedTable("no such table"), False),
    ],
)
def test_which_errors_are_worth_another_try(error: Exception, retryable: bool) -> None:
    assert is_retryable(error) is retryable
