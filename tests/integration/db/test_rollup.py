"""The daily roll-up (view daily_account_pnl) equals a GROUP BY over the raw rows --
after inserts (in order, late, same instant), updates, deletes and truncates."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.db.database import prepare_database
from infra.db.pool import Pool, connect, create_pool
from infra.db.repositories import daily_pnl
from infra.db.scratch import scratch_database
from infra.db.sinks import copy_ticks, upsert_trades
from schemas.events import BalanceEvent, TradeEvent

pytestmark = pytest.mark.integration

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)

VIEW = """
SELECT account_id, day, start_balance, end_balance, net_pnl, gross_profit, gross_loss,
       trades, wins, losses, max_intraday_drawdown, high_equity, low_equity
FROM daily_account_pnl WHERE account_id = ANY(%s) ORDER BY account_id, day
"""

# The same figures straight from the raw rows, written independently of the triggers.
REFERENCE = """
WITH tick_rows AS (
    SELECT account_id, (ts AT TIME ZONE 'UTC')::date AS day, balance, equity,
           row_number() OVER (PARTITION BY account_id, (ts AT TIME ZONE 'UTC')::date
                              ORDER BY ts, balance, equity) AS from_start,
           row_number() OVER (PARTITION BY account_id, (ts AT TIME ZONE 'UTC')::date
                              ORDER BY ts DESC, balance DESC, equity DESC) AS from_end,
           max(equity) OVER (PARTITION BY account_id, (ts AT TIME ZONE 'UTC')::date
                             ORDER BY ts, balance, equity ROWS UNBOUNDED PRECEDING) AS peak
    FROM balance_ticks WHERE account_id = ANY(%(accounts)s)
), tick_days AS (
    SELECT account_id, day,
           max(balance) FILTER (WHERE from_start = 1) AS start_balance,
           max(balance) FILTER (WHERE from_end = 1) AS end_balance,
           max(equity) AS high_equity, min(equity) AS low_equity,
           max(peak - equity) AS max_intraday_drawdown
    FROM tick_rows GROUP BY account_id, day
), trade_days AS (
    SELECT account_id, (exit_time AT TIME ZONE 'UTC')::date AS day,
           count(*) AS trades,
           count(*) FILTER (WHERE pnl > 0) AS wins,
           count(*) FILTER (WHERE pnl < 0) AS losses,
           sum(pnl) AS net_pnl,
           coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) AS gross_profit,
           coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0) AS gross_loss
    FROM trades WHERE status = 'closed' AND account_id = ANY(%(accounts)s)
    GROUP BY account_id, (exit_time AT TIME ZONE 'UTC')::date
)
SELECT coalesce(k.account_id, t.account_id) AS account_id, coalesce(k.day, t.day) AS day,
       k.start_balance, k.end_balance,
       coalesce(t.net_pnl, 0), coalesce(t.gross_profit, 0), coalesce(t.gross_loss, 0),
       coalesce(t.trades, 0)::integer, coalesce(t.wins, 0)::integer,
       coalesce(t.losses, 0)::integer,
       k.max_intraday_drawdown, k.high_equity, k.low_equity
FROM tick_days k FULL JOIN trade_days t ON t.account_id = k.account_id AND t.day = k.day
ORDER BY 1, 2
"""

# The aggregates the TimescaleDB continuous aggregate uses give the same tick figures.
TIMESCALE_AGGREGATES = """
SELECT account_id, (ts AT TIME ZONE 'UTC')::date AS day,
       aetheris_first(balance ORDER BY ts, balance, equity),
       aetheris_last(balance ORDER BY ts, balance, equity),
       max(equity), min(equity),
       aetheris_max_drawdown(equity ORDER BY ts, balance, equity)
FROM balance_ticks WHERE account_id = ANY(%s)
GROUP BY 1, 2 ORDER BY 1, 2
"""


def _rows(pool: Pool, query: str, params: Any) -> list[tuple[Any, ...]]:
    with pool.connection() as conn:
        return [tuple(row) for row in conn.execute(query, params).fetchall()]


def assert_rollup_matches_raw_rows(pool: Pool, accounts: list[str]) -> None:
    view = _rows(pool, VIEW, (accounts,))
    reference = _rows(pool, REFERENCE, {"accounts": accounts})
    assert view == reference
    # (account, day, start, end, high, low, drawdown) of the days that have ticks
    tick_figures = [(r[0], r[1], r[2], r[3], r[11], r[12], r[10]) for r in view if r[2] is not None]
    assert tick_figures == _rows(pool, TIMESCALE_AGGREGATES, (accounts,))


def _tick(account: str, minute: int, balance: float, equity: float) -> BalanceEvent:
    return BalanceEvent(
        account_id=account, ts=MONDAY + timedelta(minutes=minute), balance=balance, equity=equity
    )


def _trade(account: str, trade_id: str, entry: int, exit_: int | None, pnl: float) -> TradeEvent:
    entry_time = MONDAY + timedelta(minutes=entry)
    if exit_ is None:
        return TradeEvent(
            account_id=account,
            broker_trade_id=trade_id,
            status="open",
            symbol="EURUSD",
            side="long",
            quantity=1.0,
            entry_price=1.085,
            entry_time=entry_time,
        )
    return TradeEvent(
        account_id=account,
        broker_trade_id=trade_id,
        status="closed",
        symbol="EURUSD",
        side="long",
        quantity=1.0,
        entry_price=1.085,
        entry_time=entry_time,
        exit_price=1.09,
        exit_time=entry_time + timedelta(minutes=exit_),
        pnl=pnl,
    )


# -- worked examples --------------------------------------------------------------------


def test_a_day_of_ticks_and_trades_rolls_up(pool: Pool, account: str) -> None:
    with pool.connection() as conn, conn.cursor() as cur:
        copy_ticks(
            cur,
            [
                _tick(account, 9 * 60, 100_000.0, 100_000.0),
                _tick(account, 10 * 60, 100_000.0, 101_200.0),  # peak
                _tick(account, 11 * 60, 100_000.0, 99_500.0),  # 1,700 below the peak
                _tick(account, 12 * 60, 99_650.0, 99_650.0),
                _tick(account, 24 * 60 + 60, 99_650.0, 99_700.0),  # Tuesday
            ],
        )
        upsert_trades(
            cur,
            [
                _trade(account, "T1", 9 * 60, 60, -500.0),
                _trade(account, "T2", 10 * 60, 60, 150.0),
                _trade(account, "T3", 11 * 60, 24 * 60, 75.5),  # closes on Tuesday
                _trade(account, "T4", 11 * 60, None, 0.0),  # still open
            ],
        )

    with pool.connection() as conn:
        monday, tuesday = daily_pnl(conn, account, date(2026, 3, 2), date(2026, 3, 3))

    assert (monday.start_balance, monday.end_balance) == (100_000.0, 99_650.0)
    assert monday.max_intraday_drawdown == 1_700.0
    assert (monday.high_equity, monday.low_equity) == (101_200.0, 99_500.0)
    assert (monday.trades, monday.wins, monday.losses) == (2, 1, 1)
    assert monday.net_pnl == Decimal("-350.0")
    assert (monday.gross_profit, monday.gross_loss) == (Decimal("150.0"), Decimal("-500.0"))
    assert (tuesday.trades, tuesday.net_pnl) == (1, Decimal("75.5"))
    assert tuesday.start_balance == tuesday.end_balance == 99_650.0
    assert tuesday.max_intraday_drawdown == 0.0
    assert_rollup_matches_raw_rows(pool, [account])


def test_a_live_feed_extends_the_day_batch_by_batch(pool: Pool, account: str) -> None:
    # Each batch comes after the last stored tick: folded into the stored row, the
    # drawdown measured from the peak of an earlier batch.
    for minute, equity in [(60, 100_000.0), (61, 103_000.0), (62, 101_000.0), (63, 99_800.0)]:
        with pool.connection() as conn, conn.cursor() as cur:
            copy_ticks(cur, [_tick(account, minute, 100_000.0 + minute, equity)])

    with pool.connection() as conn:
        [day] = daily_pnl(conn, account, date(2026, 3, 2), date(2026, 3, 2))
    assert (day.start_balance, day.end_balance) == (100_060.0, 100_063.0)
    assert (day.high_equity, day.low_equity) == (103_000.0, 99_800.0)
    assert day.max_intraday_drawdown == 3_200.0
    assert_rollup_matches_raw_rows(pool, [account])


def test_a_late_tick_recomputes_its_day(pool: Pool, account: str) -> None:
    with pool.connection() as conn, conn.cursor() as cur:
        copy_ticks(cur, [_tick(account, 600, 10.0, 10.0), _tick(account, 660, 11.0, 9.0)])
    with pool.connection() as conn, conn.cursor() as cur:
        copy_ticks(cur, [_tick(account, 540, 7.0, 14.0)])  # before both: new start and peak

    with pool.connection() as conn:
        [day] = daily_pnl(conn, account, date(2026, 3, 2), date(2026, 3, 2))
    assert (day.start_balance, day.end_balance, day.max_intraday_drawdown) == (7.0, 11.0, 5.0)
    assert_rollup_matches_raw_rows(pool, [account])


def test_closing_reopening_and_deleting_trades_moves_their_pnl(pool: Pool, account: str) -> None:
    with pool.connection() as conn, conn.cursor() as cur:
        upsert_trades(cur, [_trade(account, "T1", 60, None, 0.0)])
    with pool.connection() as conn:
        assert daily_pnl(conn, account, date(2026, 3, 1), date(2026, 3, 9)) == []

    with pool.connection() as conn, conn.cursor() as cur:
        upsert_trades(cur, [_trade(account, "T1", 60, 48 * 60, 42.0)])  # closed Wednesday
    with pool.connection() as conn:
        [wednesday] = daily_pnl(conn, account, date(2026, 3, 1), date(2026, 3, 9))
    assert (wednesday.day, wednesday.trades, wednesday.net_pnl) == (
        date(2026, 3, 4),
        1,
        Decimal("42.0"),
    )
    assert wednesday.start_balance is None

    with pool.connection() as conn:
        conn.execute(
            "UPDATE trades SET exit_time = exit_time - interval '1 day', pnl = -8 "
            "WHERE account_id = %s",
            (account,),
        )
        [tuesday] = daily_pnl(conn, account, date(2026, 3, 1), date(2026, 3, 9))
        assert (tuesday.day, tuesday.losses, tuesday.net_pnl) == (
            date(2026, 3, 3),
            1,
            Decimal("-8"),
        )
        conn.execute("DELETE FROM trades WHERE account_id = %s", (account,))
        assert daily_pnl(conn, account, date(2026, 3, 1), date(2026, 3, 9)) == []


def test_writers_of_the_same_day_in_parallel_lose_nothing(pool: Pool, account: str) -> None:
    # Two writers interleave batches of one account's day (each batch is "late" for the
    # other); the roll-up must still equal the raw rows.
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(parity: int) -> None:
        try:
            barrier.wait()
            for start in range(0, 600, 60):
                batch = [
                    _tick(account, m, 50_000.0 + m, 50_000.0 + (m * 37 % 101) - 50)
                    for m in range(start + parity, start + 60, 2)
                ]
                with pool.connection() as conn, conn.cursor() as cur:
                    copy_ticks(cur, batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(parity,)) for parity in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with pool.connection() as conn:
        [day] = daily_pnl(conn, account, date(2026, 3, 2), date(2026, 3, 2))
    assert (day.start_balance, day.end_balance) == (50_000.0, 50_599.0)
    assert_rollup_matches_raw_rows(pool, [account])


# -- any sequence of changes ------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=3 * 24 * 60 - 1)  # Monday to Wednesday
money = st.integers(min_value=95_000, max_value=105_000).map(float)
tick_rows = st.lists(st.tuples(minutes, money, money), min_size=1, max_size=12)

gaps = st.lists(st.tuples(st.integers(1, 180), money, money), min_size=1, max_size=8)

operations = st.one_of(
    # ticks after the account's latest tick, as a live feed sends them
    st.tuples(st.just("stream_ticks"), st.integers(0, 1), gaps),
    st.tuples(st.just("stream_ticks"), st.integers(0, 1), gaps),
    st.tuples(st.just("copy_ticks"), st.integers(0, 1), tick_rows),
    st.tuples(st.just("copy_ticks_in_order"), st.integers(0, 1), tick_rows),
    st.tuples(st.just("shift_equity"), st.integers(0, 1), minutes, money),
    st.tuples(st.just("move_ticks_a_day"), st.integers(0, 1), minutes, st.integers(-1, 1)),
    st.tuples(st.just("delete_ticks_after"), st.integers(0, 1), minutes),
    st.tuples(
        st.just("trade"),
        st.integers(0, 1),
        st.integers(0, 4),
        minutes,
        st.one_of(st.none(), st.integers(0, 30 * 60)),
        st.integers(-500, 500).map(float),
    ),
    st.tuples(st.just("flip_pnl"), st.integers(0, 1), st.integers(0, 4)),
    st.tuples(st.just("delete_trade"), st.integers(0, 1), st.integers(0, 4)),
)


def _apply(pool: Pool, accounts: list[str], operation: tuple[Any, ...], backend: str) -> None:
    kind, which = operation[0], accounts[operation[1]]
    with pool.connection() as conn, conn.cursor() as cur:
        if kind == "stream_ticks":
            latest = cur.execute(
                "SELECT max(ts) FROM balance_ticks WHERE account_id = %s", (which,)
            ).fetchone()
            at = latest[0] if latest and latest[0] is not None else MONDAY
            stream: list[BalanceEvent] = []
            for gap, balance, equity in operation[2]:
                at += timedelta(minutes=gap)
                stream.append(BalanceEvent(account_id=which, ts=at, balance=balance, equity=equity))
            copy_ticks(cur, stream)
        elif kind in ("copy_ticks", "copy_ticks_in_order"):
            rows = operation[2] if kind == "copy_ticks" else sorted(operation[2])
            copy_ticks(cur, [_tick(which, m, balance, equity) for m, balance, equity in rows])
        elif kind == "shift_equity":
            cur.execute(
                "UPDATE balance_ticks SET equity = equity - 250 WHERE account_id = %s "
                "AND ts >= %s AND equity < %s",
                (which, MONDAY + timedelta(minutes=operation[2]), operation[3]),
            )
        elif kind == "move_ticks_a_day" and backend == "timescaledb":
            # A hypertable cannot move rows between chunks by UPDATE: delete and re-insert.
            moved = cur.execute(
                "DELETE FROM balance_ticks WHERE account_id = %s AND ts >= %s "
                "RETURNING account_id, ts + %s * interval '1 day', balance, equity",
                (which, MONDAY + timedelta(minutes=operation[2]), operation[3]),
            ).fetchall()
            copy_ticks(
                cur, [BalanceEvent(account_id=a, ts=t, balance=b, equity=e) for a, t, b, e in moved]
            )
        elif kind == "move_ticks_a_day":
            cur.execute(
                "UPDATE balance_ticks SET ts = ts + %s * interval '1 day' "
                "WHERE account_id = %s AND ts >= %s",
                (operation[3], which, MONDAY + timedelta(minutes=operation[2])),
            )
        elif kind == "delete_ticks_after":
            cur.execute(
                "DELETE FROM balance_ticks WHERE account_id = %s AND ts >= %s",
                (which, MONDAY + timedelta(minutes=operation[2])),
            )
        elif kind == "trade":
            _, _, number, entry, duration, pnl = operation
            upsert_trades(cur, [_trade(which, f"T{number}", entry, duration, pnl)])
        elif kind == "flip_pnl":
            cur.execute(
                "UPDATE trades SET pnl = -pnl - 1 WHERE account_id = %s AND broker_trade_id = %s "
                "AND status = 'closed'",
                (which, f"T{operation[2]}"),
            )
        else:
            cur.execute(
                "DELETE FROM trades WHERE account_id = %s AND broker_trade_id = %s",
                (which, f"T{operation[2]}"),
            )


@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(operations, min_size=1, max_size=10))
def test_rollup_equals_group_by_after_any_changes(
    pool: Pool, backend: str, operations: list[tuple[Any, ...]]
) -> None:
    accounts = [f"H-{uuid4().hex[:10]}", f"H-{uuid4().hex[:10]}"]
    for operation in operations:
        _apply(pool, accounts, operation, backend)
        assert_rollup_matches_raw_rows(pool, accounts)


def test_truncating_the_raw_tables_empties_the_rollup(admin_url: str) -> None:
    with scratch_database(admin_url, prefix="aetheris_test_truncate") as url:
        prepare_database(url, timescale="off")
        own = create_pool(url, size=1)
        try:
            with own.connection() as conn, conn.cursor() as cur:
                copy_ticks(cur, [_tick("A", 5, 1.0, 1.0)])
                upsert_trades(cur, [_trade("B", "T1", 5, 5, 3.0)])
            with connect(url) as conn:
                conn.execute("TRUNCATE balance_ticks")
                assert conn.execute("SELECT account_id FROM daily_account_pnl").fetchall() == [
                    ("B",)
                ]
                conn.execute("TRUNCATE trades")
                assert conn.execute("SELECT count(*) FROM daily_account_pnl").fetchone() == (0,)
        finally:
            own.close()
