"""``store_import`` with ``settle``: new trades written on a guess while the import still
decides, kept when the guess holds, rolled back to a savepoint and replaced when not.

Worked examples over the real database: three closed trades (and the balance ticks
after them) guessed; the import then keeps the guess (all land, once), refuses one trade
(two land, with their own ticks), swaps a row (the open row of a trade lands, not the
guessed closed one), changes only the ticks (the new ones land), or fails (nothing
lands, not even the account).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import polars as pl
import pytest

from connectors.statements.frames import TRADE_SCHEMA, trade_record
from infra.db.pool import Pool
from infra.db.statements import ImportRows, StoredImport, store_import
from schemas.events import AccountEvent, TradeEvent
from tests.integration.db.test_rollup import assert_rollup_matches_raw_rows

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def closed(account: str, trade_id: str, minutes: int, pnl: float) -> TradeEvent:
    return TradeEvent(
        account_id=account,
        broker_trade_id=trade_id,
        status="closed",
        symbol="ES",
        side="long",
        quantity=1,
        entry_price=5000.25,
        entry_time=T0 + timedelta(minutes=minutes),
        exit_price=5001.25,
        exit_time=T0 + timedelta(minutes=minutes + 5),
        pnl=pnl,
        commission=-2.1,
    )


def frame(trades: list[TradeEvent]) -> pl.DataFrame:
    return pl.DataFrame(
        [{**trade_record(t), "row": n} for n, t in enumerate(trades, start=2)],
        schema=TRADE_SCHEMA,
    ).select([n for n in TRADE_SCHEMA if n != "row"])


def stored(pool: Pool, account: str) -> tuple[int, list[tuple[str, str, Decimal | None]]]:
    with pool.connection() as conn:
        accounts = conn.execute(
            "SELECT count(*) FROM accounts WHERE account_id = %s", (account,)
        ).fetchone()
        trades = conn.execute(
            "SELECT broker_trade_id, status, pnl FROM trades WHERE account_id = %s "
            "ORDER BY broker_trade_id",
            (account,),
        ).fetchall()
    assert accounts is not None
    return accounts[0], [(str(a), str(b), c) for a, b, c in trades]


def store_rows(
    pool: Pool,
    account: str,
    guess: pl.DataFrame,
    settle: Callable[[], ImportRows] | None = None,
    guessed_ticks: pl.DataFrame | None = None,
) -> StoredImport:
    """Store ``guess`` (and ``guessed_ticks``) for ``account``, registering it."""
    return store_import(
        pool,
        batch_id=uuid4(),
        account_id=account,
        source="import:test",
        account=AccountEvent(
            account_id=account, ruleset="ftmo-2step", initial_balance=10_000, currency="USD"
        ),
        rows=ImportRows(new_trades=guess, ticks=() if guessed_ticks is None else guessed_ticks),
        settle=settle,
    )


def store(
    pool: Pool,
    account: str,
    guess: pl.DataFrame,
    settle: Callable[[], ImportRows],
    guessed_ticks: pl.DataFrame | None = None,
) -> tuple[int, int]:
    """:func:`store_rows`; how many trades were new and how many ticks were stored."""
    result = store_rows(pool, account, guess, settle, guessed_ticks)
    return result.trades.new, result.ticks


@pytest.fixture
def three(account: str) -> list[TradeEvent]:
    return [
        closed(account, "A", 0, 10.0),
        closed(account, "B", 10, -20.0),
        closed(account, "C", 20, 30.0),
    ]


def ticks(account: str, balances: list[float]) -> pl.DataFrame:
    """A balance tick 5 minutes after each of the three trades' entries."""
    return pl.DataFrame(
        {
            "account_id": [account] * len(balances),
            "ts": [T0 + timedelta(minutes=10 * n + 5) for n in range(len(balances))],
            "balance": balances,
            "equity": balances,
        }
    )


def stored_ticks(pool: Pool, account: str) -> list[float]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT balance FROM balance_ticks WHERE account_id = %s ORDER BY ts", (account,)
        ).fetchall()
    return [float(r[0]) for r in rows]


def test_a_guess_that_holds_is_stored_once(
    pool: Pool, account: str, three: list[TradeEvent]
) -> None:
    # 10 000 + 10 = 10 010; - 20 = 9 990; + 30 = 10 020.
    guess = frame(three)
    balances = ticks(account, [10_010.0, 9_990.0, 10_020.0])

    def settle() -> ImportRows:
        return ImportRows(frame(three), ticks=ticks(account, [10_010.0, 9_990.0, 10_020.0]))

    assert store(pool, account, guess, settle, balances) == (3, 3)
    assert stored(pool, account) == (
        1,
        [
            ("A", "closed", Decimal("10")),
            ("B", "closed", Decimal("-20")),
            ("C", "closed", Decimal("30")),
        ],
    )
    assert stored_ticks(pool, account) == [10_010.0, 9_990.0, 10_020.0]
    # The straight COPY into the tables keeps the daily roll-up as an insert does.
    assert_rollup_matches_raw_rows(pool, [account])


def test_guessed_ticks_that_change_are_replaced(
    pool: Pool, account: str, three: list[TradeEvent]
) -> None:
    # The same trades, but the balance before them was 5 000 higher than guessed (a
    # balance stored meanwhile): the ticks written on the guess are taken back.
    settled = ImportRows(frame(three), ticks=ticks(account, [15_010.0, 14_990.0, 15_020.0]))
    guess = ticks(account, [10_010.0, 9_990.0, 10_020.0])
    assert store(pool, account, frame(three), lambda: settled, guess) == (3, 3)
    assert stored_ticks(pool, account) == [15_010.0, 14_990.0, 15_020.0]


def test_a_refused_row_is_taken_back(pool: Pool, account: str, three: list[TradeEvent]) -> None:
    # B failed the suite after the guess was written: A and C only, counted as such, and
    # the ticks guessed after all three are taken back for those after A and C.
    settled = ImportRows(frame([three[0], three[2]]), ticks=ticks(account, [10_010.0, 10_040.0]))
    guess = ticks(account, [10_010.0, 9_990.0, 10_020.0])
    assert store(pool, account, frame(three), lambda: settled, guess) == (2, 2)
    assert stored(pool, account) == (
        1,
        [("A", "closed", Decimal("10")), ("C", "closed", Decimal("30"))],
    )
    assert stored_ticks(pool, account) == [10_010.0, 10_040.0]


def test_the_decision_may_swap_a_row(pool: Pool, account: str, three: list[TradeEvent]) -> None:
    # The file held B open and closed; the closed row failed, so B's open row is new.
    b_open = TradeEvent(
        account_id=account,
        broker_trade_id="B",
        status="open",
        symbol="ES",
        side="long",
        quantity=1,
        entry_price=5000.25,
        entry_time=T0 + timedelta(minutes=10),
    )
    settled = ImportRows(frame([three[0], b_open, three[2]]))
    assert store(pool, account, frame(three), lambda: settled) == (3, 0)
    assert stored(pool, account)[1] == [
        ("A", "closed", Decimal("10")),
        ("B", "open", None),
        ("C", "closed", Decimal("30")),
    ]
    assert_rollup_matches_raw_rows(pool, [account])


def test_a_failed_decision_stores_nothing(
    pool: Pool, account: str, three: list[TradeEvent]
) -> None:
    def settle() -> ImportRows:
        raise RuntimeError("the suite could not run")

    with pytest.raises(RuntimeError, match="the suite could not run"):
        store(pool, account, frame(three), settle, ticks(account, [10_010.0]))
    assert stored(pool, account) == (0, [])
    assert stored_ticks(pool, account) == []


def test_a_trade_stored_meanwhile_is_skipped(
    pool: Pool, account: str, three: list[TradeEvent]
) -> None:
    """The import found none of A, B, C stored, but another import stored A (with
    another P&L) before this one wrote: the straight COPY meets A's key, is undone, and
    the staged insert writes B and C and counts A as a duplicate."""
    first = store_rows(pool, account, frame([closed(account, "A", 0, 99.0)]))
    assert (first.trades.new, first.trades.duplicate) == (1, 0)
    second = store_rows(pool, account, frame(three))
    assert (second.trades.new, second.trades.duplicate) == (2, 1)
    assert stored(pool, account)[1] == [
        ("A", "closed", Decimal("99")),
        ("B", "closed", Decimal("-20")),
        ("C", "closed", Decimal("30")),
    ]
    assert_rollup_matches_raw_rows(pool, [account])
