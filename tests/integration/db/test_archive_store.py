"""The archive's writes on both backends: rows with their offsets, a re-sent batch stored
once, status changes once per status_id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.db.archive import Archived, ArchiveStore, StatusChange, insert_status_changes
from infra.db.pool import Pool
from schemas.events import AccountEvent, BalanceEvent, TradeEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _items(account: str) -> list[Archived]:
    register = AccountEvent(
        account_id=account, ruleset="ftmo-2step", initial_balance=10_000.0, currency="USD"
    )
    trade = TradeEvent(
        account_id=account,
        broker_trade_id="T1",
        status="closed",
        symbol="NQ",
        side="long",
        quantity=1.0,
        entry_price=10.0,
        entry_time=T0,
        exit_price=11.0,
        exit_time=T0 + timedelta(minutes=5),
        pnl=10.0,
    )
    ticks = [
        BalanceEvent(account_id=account, ts=T0 + timedelta(seconds=n), balance=1.0, equity=1.0)
        for n in range(3)
    ]
    return [
        Archived("events[2]", 10, register),
        Archived("events[2]", 11, ticks[0]),
        Archived("events[2]", 12, trade),
        Archived("events[2]", 13, ticks[1]),
        Archived("events[2]", 14, ticks[2]),
    ]


def _counts(pool: Pool, account: str) -> tuple[int, int, int]:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM accounts WHERE account_id = %(a)s), "
            "(SELECT count(*) FROM balance_ticks WHERE account_id = %(a)s), "
            "(SELECT count(*) FROM trades WHERE account_id = %(a)s)",
            {"a": account},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_a_batch_sent_again_is_stored_once(pool: Pool, account: str) -> None:
    store = ArchiveStore(pool)
    items = _items(account)
    first = store.write(items[:3])
    assert (first.accounts, first.ticks, first.trades.new, first.skipped) == (1, 1, 1, 0)

    again = store.write(items)  # a replay from an older snapshot: the first three again
    assert (again.ticks, again.skipped) == (2, 3)
    assert _counts(pool, account) == (1, 3, 1)
    assert store.write(items).skipped == 5
    assert _counts(pool, account) == (1, 3, 1)

    with pool.connection() as conn:
        marks = conn.execute(
            "SELECT source, last_offset FROM archive_offsets WHERE account_id = %s ORDER BY 1",
            (account,),
        ).fetchall()
    assert marks == [("events@events[2]", 12), ("ticks@events[2]", 14)]


def test_a_tick_held_back_is_stored_after_later_trades(pool: Pool, account: str) -> None:
    # The pipeline holds an account's latest tick until the next one while its trades go
    # out: ticks have their own mark, so the held tick (offset 11) is not skipped.
    store = ArchiveStore(pool)
    items = _items(account)
    store.write([items[0], items[2]])  # account (10) and trade (12)
    report = store.write([items[1]])  # the tick at offset 11
    assert (report.ticks, report.skipped) == (1, 0)
    assert _counts(pool, account) == (1, 1, 1)


def test_status_changes_are_stored_once(pool: Pool, account: str) -> None:
    change = StatusChange(
        status_id=f"S-{account}",
        account_id=account,
        status="locked",
        previous="active",
        ts=T0,
        rule="max_daily_loss",
        until=T0 + timedelta(hours=14),
        message="Daily loss limit reached: trading locked until the next trading day",
    )
    with pool.connection() as conn, conn.cursor() as cur:
        assert insert_status_changes(cur, [change, change]) == (change.status_id,)
        assert insert_status_changes(cur, [change]) == ()
        rows = cur.execute(
            "SELECT status, previous, rule, until FROM account_status_changes "
            "WHERE account_id = %s",
            (account,),
        ).fetchall()
    assert rows == [("locked", "active", "max_daily_loss", T0 + timedelta(hours=14))]
