"""The data-quality suites (great-expectations) on rows, without a database: each
published check rejects the rows it should and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from infra.quality.validate import STORED_TRADE_KEY, validate_ticks, validate_trades

NOW = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)


def trade(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "account_id": "A1",
        "broker_trade_id": "T-1",
        "status": "closed",
        "symbol": "EURUSD",
        "side": "long",
        "quantity": 1.0,
        "entry_price": 1.085,
        "exit_price": 1.08,
        "entry_time": "2026-03-02T09:05:00Z",
        "exit_time": "2026-03-02T10:40:00+01:00",  # 09:40Z
        "pnl": -500.0,
    }
    return {**fields, **changes}


def failures_of(bad: dict[str, Any]) -> tuple[str, ...]:
    result = validate_trades([trade(broker_trade_id="good"), bad], now=NOW)
    assert 0 not in result.row_failures
    return result.row_failures.get(1, ())


def test_a_good_batch_passes_every_check() -> None:
    result = validate_trades(
        [
            trade(),
            trade(broker_trade_id="T-2", status="open", exit_price=None, exit_time=None, pnl=None),
        ],
        now=NOW,
    )
    assert result.success
    assert result.row_failures == {}
    assert len(result.outcomes) > 20


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"entry_price": 0.0}, "entry_price must be greater than 0"),
        ({"exit_price": -1.08}, "exit_price must be greater than 0"),
        ({"stop_loss": -5.0}, "stop_loss must be greater than 0"),
        ({"quantity": 0}, "quantity must be greater than 0"),
        ({"quantity": "lots"}, "quantity is missing or not a number"),
        ({"side": "buy"}, "side must be 'long' or 'short'"),
        ({"side": None}, "side is missing"),
        ({"status": "pending"}, "status must be 'open' or 'closed'"),
        ({"exit_time": "2026-03-02T09:00:00Z"}, "exit_time is before entry_time"),
        ({"entry_time": "2026-13-45"}, "entry_time is missing or not a timestamp"),
        ({"exit_time": None}, "a closed trade needs exit_time (a valid timestamp)"),
        ({"pnl": float("nan")}, "a closed trade needs a finite pnl"),
        ({"pnl": float("inf")}, "pnl must be a finite number"),
        ({"commission": float("-inf")}, "commission must be a finite number"),
        (
            {"status": "open", "exit_price": None, "pnl": None},
            "an open trade has no exit_time (set status to 'closed')",
        ),
        (
            {"entry_time": "2026-03-09T00:00:00Z", "exit_time": "2026-03-09T01:00:00Z"},
            "entry_time is in the future",
        ),
        ({"account_id": "A 1"}, "account_id must be 1-128 characters without spaces"),
        ({"broker_trade_id": "x" * 129}, "broker_trade_id must be 1-128 characters"),
    ],
)
def test_a_bad_trade_is_rejected_with_its_reason(changes: dict[str, Any], reason: str) -> None:
    assert reason in failures_of(trade(**changes))


def test_a_clock_a_few_minutes_ahead_is_not_the_future() -> None:
    assert failures_of(trade(exit_time="2026-03-06T18:04:00Z")) == ()
    assert failures_of(trade(exit_time="2026-03-06T18:06:00Z")) == ("exit_time is in the future",)


def test_duplicate_broker_ids_are_rejected_together() -> None:
    result = validate_trades(
        [trade(pnl=-1.0), trade(pnl=-2.0), trade(broker_trade_id="T-2")], now=NOW
    )
    key = "another row has the same account_id, broker_trade_id, status"
    assert result.row_failures == {0: (key,), 1: (key,)}
    # An open and a closed event of one trade may share a batch ...
    both = validate_trades(
        [trade(status="open", exit_price=None, exit_time=None, pnl=None), trade()], now=NOW
    )
    assert both.success
    # ... but stored trades are one row per broker id.
    stored = validate_trades(
        [trade(status="open", exit_price=None, exit_time=None, pnl=None), trade()],
        now=NOW,
        unique_key=STORED_TRADE_KEY,
        per_row=False,
    )
    [duplicate] = stored.failed
    assert (duplicate.key, duplicate.unexpected_count) == ("broker_trade_id_unique", 2)
    assert duplicate.examples[0].startswith("account_id=A1, broker_trade_id=T-1")


def test_ticks_need_finite_balance_and_equity_and_a_past_time() -> None:
    result = validate_ticks(
        [
            {"account_id": "A1", "ts": "2026-03-02T09:00:00Z", "balance": 1.0, "equity": 1.0},
            {
                "account_id": "A1",
                "ts": "2026-03-02T09:00:01Z",
                "balance": 1.0,
                "equity": float("inf"),
            },
            {"account_id": "A1", "ts": "2026-03-02T09:00:02Z", "balance": None, "equity": 1.0},
            {"account_id": "A1", "ts": "2027-01-01T00:00:00Z", "balance": 1.0, "equity": 1.0},
            {"account_id": "", "ts": "2026-03-02T09:00:03Z", "balance": 1.0, "equity": 1.0},
        ],
        now=NOW,
    )
    assert result.row_failures == {
        1: ("equity must be a finite number",),
        2: ("balance is missing or not a number",),
        3: ("ts is in the future",),
        4: ("account_id must be 1-128 characters without spaces",),
    }


def test_an_empty_batch_passes() -> None:
    result = validate_trades([], now=NOW)
    assert result.success and result.rows == 0


def test_times_in_nanoseconds_when_they_fit_and_as_they_are_beyond() -> None:
    """Times are checked in one vectorised step in nanoseconds; a time past 2262 (beyond
    nanoseconds) keeps its microseconds and is still found in the future."""
    from infra.quality.validate import trades_frame  # noqa: PLC0415

    assert str(trades_frame([trade()])["entry_time"].dtype) == "datetime64[ns]"
    far = trade(entry_time="2400-01-01T00:00:00Z", exit_time="2400-01-01T01:00:00Z")
    assert str(trades_frame([trade(), far])["entry_time"].dtype) == "datetime64[us]"
    assert failures_of(far) == ("entry_time is in the future", "exit_time is in the future")
