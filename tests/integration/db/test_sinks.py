"""The sinks against a real PostgreSQL: COPY, idempotent upserts, dead letters, and
batches that survive a dropped connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from infra.db.pool import Pool, connect, create_pool
from infra.db.retry import RetryPolicy
from infra.db.sinks import DeadLetter, PostgresSink, TradeCounts
from infra.db.writer import DatabaseWriter
from schemas.events import AccountEvent, BalanceEvent, BreachEvent, TradeEvent

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ticks(account: str, count: int, *, start: int = 0) -> list[BalanceEvent]:
    return [
        BalanceEvent(
            account_id=account,
            ts=T0 + timedelta(seconds=start + i),
            balance=100_000.0,
            equity=100_000.0 - (start + i) % 97,
        )
        for i in range(count)
    ]


def opened(account: str, trade_id: str = "T-1001", **changes: Any) -> TradeEvent:
    fields: dict[str, Any] = {
        "account_id": account,
        "broker_trade_id": trade_id,
        "status": "open",
        "symbol": "EURUSD",
        "side": "long",
        "quantity": 1.0,
        "entry_price": 1.0850,
        "entry_time": T0,
    }
    return TradeEvent(**{**fields, **changes})


def closed(account: str, trade_id: str = "T-1001", **changes: Any) -> TradeEvent:
    fields: dict[str, Any] = {
        "status": "closed",
        "exit_price": 1.0800,
        "exit_time": T0 + timedelta(minutes=35),
        "pnl": -500.0,
        "commission": -7.0,
    }
    return opened(account, trade_id, **{**fields, **changes})


def breach(account: str, breach_id: str, level: int = 1) -> BreachEvent:
    return BreachEvent(
        breach_id=breach_id,
        account_id=account,
        rule="max_daily_loss",
        level=level,  # type: ignore[arg-type]
        ts=T0,
        value=3_600.0,
        limit=5_000.0,
        threshold=95_000.0,
        message="Daily loss 3,600.00 used 72% of the limit 5,000.00",
    )


def count(pool: Pool, query: str, *params: Any) -> int:
    with pool.connection() as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def no_sleep(seconds: float) -> None:
    """Retries without waiting (the tests assert outcomes, never timing)."""


# -- ticks ------------------------------------------------------------------------------


def test_ticks_are_copied_exactly(pool: Pool, account: str) -> None:
    batch = ticks(account, 2_500)
    assert PostgresSink(pool).write_ticks(batch) == 2_500

    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT ts, balance, equity FROM balance_ticks WHERE account_id = %s ORDER BY ts",
            (account,),
        ).fetchall()
    assert stored == [(t.ts, t.balance, t.equity) for t in batch]


def test_a_batch_written_twice_with_its_id_is_stored_once(pool: Pool, account: str) -> None:
    sink = PostgresSink(pool)
    batch_id = uuid4()

    first = sink.write(ticks(account, 10), batch_id=batch_id)
    again = sink.write(ticks(account, 10), batch_id=batch_id)

    assert (first.ticks, first.replayed) == (10, False)
    assert (again.ticks, again.replayed) == (0, True)
    assert count(pool, "SELECT count(*) FROM balance_ticks WHERE account_id = %s", account) == 10


# -- trades -----------------------------------------------------------------------------


def test_an_open_trade_later_closed_updates_its_row(pool: Pool, account: str) -> None:
    sink = PostgresSink(pool, source="csv:statement.csv")

    assert sink.write_trades([opened(account)]) == TradeCounts(new=1)
    assert sink.write_trades([closed(account)]) == TradeCounts(updated=1)
    assert sink.write_trades([closed(account)]) == TradeCounts(duplicate=1)

    with pool.connection() as conn:
        row = conn.execute(
            "SELECT status, exit_price, pnl, commission, source FROM trades WHERE account_id = %s",
            (account,),
        ).fetchall()
    assert row == [
        ("closed", Decimal("1.08"), Decimal("-500.0"), Decimal("-7.0"), "csv:statement.csv")
    ]


def test_a_stale_open_event_never_reopens_a_closed_trade(pool: Pool, account: str) -> None:
    sink = PostgresSink(pool)

    # Both in one batch, the close first: the open that follows is a duplicate.
    assert sink.write_trades([closed(account), opened(account)]) == TradeCounts(new=1, duplicate=1)
    assert (
        count(
            pool, "SELECT count(*) FROM trades WHERE account_id = %s AND status = 'closed'", account
        )
        == 1
    )


def test_trade_counts_per_batch_for_a_sync_log(pool: Pool, account: str) -> None:
    sink = PostgresSink(pool)
    sink.write_trades([opened(account, "A"), closed(account, "B")])

    counts = sink.write_trades(
        [
            opened(account, "A"),  # repeat
            closed(account, "A", pnl=25.0),  # closes A
            closed(account, "B", pnl=-480.0),  # broker corrected B
            opened(account, "C"),  # new
        ]
    )

    assert counts == TradeCounts(new=1, updated=2, duplicate=1)


def test_tags_merge_and_notes_survive_a_resync(pool: Pool, account: str) -> None:
    sink = PostgresSink(pool)
    sink.write_trades([opened(account, tags=("fomo",), notes="chased the breakout")])

    counts = sink.write_trades([closed(account, tags=("revenge",))])

    assert counts == TradeCounts(updated=1)
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT tags, notes FROM trades WHERE account_id = %s", (account,)
        ).fetchone()
    assert row == (["fomo", "revenge"], "chased the breakout")


def test_prices_keep_every_digit_of_the_event(pool: Pool, account: str) -> None:
    PostgresSink(pool).write_trades([closed(account, entry_price=0.1 + 0.2, pnl=-1 / 3)])

    with pool.connection() as conn:
        row = conn.execute(
            "SELECT entry_price, pnl FROM trades WHERE account_id = %s", (account,)
        ).fetchone()
    assert row is not None
    assert (float(row[0]), float(row[1])) == (0.1 + 0.2, -1 / 3)


# -- breaches, accounts, dead letters ---------------------------------------------------


def test_a_replayed_breach_is_stored_once(pool: Pool, account: str) -> None:
    sink = PostgresSink(pool)
    first_id, second_id = f"{account}:b1", f"{account}:b2"

    assert sink.write_breaches([breach(account, first_id), breach(account, first_id)]) == (
        first_id,
    )
    assert sink.write_breaches([breach(account, first_id), breach(account, second_id, 2)]) == (
        second_id,
    )
    assert count(pool, "SELECT count(*) FROM breaches WHERE account_id = %s", account) == 2


def test_accounts_register_and_update(pool: Pool, account: str) -> None:
    sink = PostgresSink(pool)
    sink.write(
        [
            AccountEvent(
                account_id=account,
                ruleset="ftmo-2step",
                initial_balance=100_000.0,
                currency="USD",
                name="Challenge",
            )
        ]
    )
    sink.write(
        [
            AccountEvent(
                account_id=account,
                ruleset="ftmo-2step",
                initial_balance=100_000.0,
                currency="USD",
                overrides={"max_daily_loss": {"limit_percent": 4}},
            )
        ]
    )
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT name, ruleset, overrides, initial_balance, status FROM accounts "
            "WHERE account_id = %s",
            (account,),
        ).fetchone()
    assert row == (
        "Challenge",
        "ftmo-2step",
        {"max_daily_loss": {"limit_percent": 4}},
        Decimal("100000.0"),
        "active",
    )


def test_dead_letters_keep_the_raw_payload_and_the_reason(pool: Pool, account: str) -> None:
    letter = DeadLetter(
        source="aetheris.trades[0]@17",
        raw_payload='{"type": "trade", "side": "sideways"\x00',
        reason="field 'side': expected 'long' or 'short'",
        account_id=account,
    )
    assert PostgresSink(pool).write_dead_letters([letter]) == 1
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT source, raw_payload, reason FROM dead_letters WHERE account_id = %s",
            (account,),
        ).fetchone()
    assert row == (
        "aetheris.trades[0]@17",
        '{"type": "trade", "side": "sideways"\\u0000',
        "field 'side': expected 'long' or 'short'",
    )


def test_the_database_writer_stores_on_flush(pool: Pool, account: str) -> None:
    writer = DatabaseWriter(PostgresSink(pool))
    writer.write([*ticks(account, 5), breach(account, f"{account}:w1")])
    assert writer.buffered == 6
    assert count(pool, "SELECT count(*) FROM balance_ticks WHERE account_id = %s", account) == 0

    writer.flush()

    assert writer.buffered == 0
    assert count(pool, "SELECT count(*) FROM balance_ticks WHERE account_id = %s", account) == 5
    assert count(pool, "SELECT count(*) FROM breaches WHERE account_id = %s", account) == 1


# -- dropped connections ----------------------------------------------------------------


@pytest.fixture
def own_pool(database_url: str) -> Iterator[tuple[Pool, str]]:
    """A pool whose connections carry a name of their own, so a test can kill them."""
    name = f"aetheris-drop-{uuid4().hex[:8]}"
    pool = create_pool(database_url, size=2, name=name, application_name=name)
    yield pool, name
    pool.close()


def terminate(database_url: str, application_name: str) -> int:
    with connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


def test_a_sink_keeps_every_row_when_its_idle_connections_are_dropped(
    database_url: str, own_pool: tuple[Pool, str], account: str
) -> None:
    pool, name = own_pool
    sink = PostgresSink(pool, retry=RetryPolicy(attempts=5), sleep=no_sleep)
    stored = 0
    for batch in range(6):
        stored += sink.write_ticks(ticks(account, 1_000, start=batch * 1_000))
        assert terminate(database_url, name) >= 1  # every connection of the pool dies

    assert stored == 6_000
    assert count(pool, "SELECT count(*) FROM balance_ticks WHERE account_id = %s", account) == 6_000
    assert (
        count(pool, "SELECT count(DISTINCT ts) FROM balance_ticks WHERE account_id = %s", account)
        == 6_000
    )


def test_a_batch_cut_off_mid_transaction_is_retried_whole(
    database_url: str, own_pool: tuple[Pool, str], account: str
) -> None:
    pool, name = own_pool
    pauses: list[float] = []
    sink = PostgresSink(pool, retry=RetryPolicy(attempts=5, first_delay=0.01), sleep=pauses.append)
    outcome: dict[str, Any] = {}

    def write() -> None:
        try:
            outcome["report"] = sink.write(
                [*ticks(account, 3_000), closed(account), breach(account, f"{account}:cut")]
            )
        except BaseException as exc:  # surfaced below
            outcome["error"] = exc

    # Hold a lock the batch's COPY needs, wait until the sink's backend is stuck on it
    # in the middle of its transaction, then drop that connection.
    with connect(database_url) as blocker:
        blocker.execute("LOCK TABLE balance_ticks IN SHARE MODE")
        thread = threading.Thread(target=write)
        thread.start()
        waiting = _wait_for_lock_wait(database_url, name)
        assert terminate(database_url, name) >= 1
        blocker.rollback()  # release the lock: the retry goes through
    thread.join(timeout=60)

    assert waiting
    assert "error" not in outcome
    report = outcome["report"]
    assert (report.ticks, report.trades, report.replayed) == (3_000, TradeCounts(new=1), False)
    assert report.new_breach_ids == (f"{account}:cut",)
    assert len(pauses) >= 1  # it did retry
    assert count(pool, "SELECT count(*) FROM balance_ticks WHERE account_id = %s", account) == 3_000
    assert count(pool, "SELECT count(*) FROM trades WHERE account_id = %s", account) == 1
    assert count(pool, "SELECT count(*) FROM breaches WHERE account_id = %s", account) == 1


def _wait_for_lock_wait(database_url: str, application_name: str) -> bool:
    deadline = time.monotonic() + 30
    with connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application_name,),
            ).fetchone()
            if row is not None and row[0] > 0:
                return True
            time.sleep(0.05)
    return False


def test_bad_data_is_not_retried(pool: Pool, account: str) -> None:
    # Rows the database refuses fail the same way every time: raised at once.
    pauses: list[float] = []
    sink = PostgresSink(pool, sleep=pauses.append)
    unnamed = opened(account).model_copy(update={"broker_trade_id": ""})
    oversized = AccountEvent.model_construct(
        account_id="x" * 200, ruleset="ftmo-2step", initial_balance=1.0, currency="USD"
    )

    with pytest.raises(psycopg.errors.CheckViolation):
        sink.write_trades([unnamed])
    with pytest.raises(psycopg.errors.CheckViolation):
        sink.write([oversized])
    assert pauses == []
