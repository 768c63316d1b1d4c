"""Building the journal: closed trades only, duplicates once, frames checked at the door."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from risk_engine.metrics import Journal, compute_kpis, journal_from_events
from schemas import TradeEvent
from tests.unit.metrics.builders import account, snapshot, trade


def test_open_trades_are_left_out_and_duplicates_count_once() -> None:
    opened = TradeEvent(
        account_id="A1",
        broker_trade_id="T-9",
        status="open",
        symbol="EURUSD",
        side="long",
        quantity=1.0,
        entry_price=1.1,
        entry_time=datetime(2026, 3, 2, 9, tzinfo=UTC),
    )
    first = trade(10.0, trade_id="T-1")
    again = trade(99.0, trade_id="T-1")  # the same closed trade re-sent
    journal, counts = journal_from_events(
        [account(), opened, first, again, snapshot("2026-03-02 21:00", 10_010.0)]
    )
    assert (counts.closed_trades, counts.open_trades, counts.duplicate_trades) == (1, 1, 1)
    assert (counts.balances, counts.accounts) == (1, 1)
    assert journal.trades.get_column("pnl").to_list() == [10.0]
    assert compute_kpis(journal)["execution"]["net_pnl"] == 10.0


def test_a_frame_with_the_minimum_columns_is_completed() -> None:
    trades = pl.DataFrame(
        {
            "account_id": ["A"],
            "side": ["long"],
            "entry_price": [1.0],
            "exit_price": [1.5],
            "entry_time": [datetime(2026, 3, 2, 9, tzinfo=UTC)],
            "exit_time": [datetime(2026, 3, 2, 10, tzinfo=UTC)],
            "pnl": [50],  # an integer column is cast
        }
    )
    journal = Journal(trades=trades)
    assert journal.trades.schema["pnl"] == pl.Float64
    assert journal.trades.get_column("commission").to_list() == [0.0]
    assert journal.trades.get_column("tags").to_list() == [[]]
    assert compute_kpis(journal)["execution"]["net_pnl"] == 50.0


def test_missing_required_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"lacks required column.*pnl"):
        Journal(trades=pl.DataFrame({"account_id": ["A"], "side": ["long"]}))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("pnl", float("nan"), "finite"),
        ("side", "flat", "side is 'long' or 'short'"),
        ("exit_time", datetime(2026, 3, 2, 8, tzinfo=UTC), "exit not before entry"),
    ],
)
def test_bad_trade_rows_are_refused(column: str, value: object, message: str) -> None:
    row = {
        "account_id": "A",
        "side": "long",
        "entry_price": 1.0,
        "exit_price": 1.5,
        "entry_time": datetime(2026, 3, 2, 9, tzinfo=UTC),
        "exit_time": datetime(2026, 3, 2, 10, tzinfo=UTC),
        "pnl": 1.0,
    }
    row[column] = value
    with pytest.raises(ValueError, match=message):
        Journal(trades=pl.DataFrame([row]))
