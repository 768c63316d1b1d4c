"""The MetaTrader bridge's batch parser, on a batch worked out by hand.

The broker's server clock is UTC+2 (``server_offset_seconds`` = 7200), so 10:00 server
time is 08:00 UTC.

Position 5001, EURUSD, buy 1.00 lot at 1.08500 (commission -3.50), closed in two parts:
0.40 at 1.08700 (profit 0.4 x 100,000 x 0.00200 = 80.00, commission -1.40) and 0.60 at
1.08600 (profit 0.6 x 100,000 x 0.00100 = 60.00, commission -2.10, swap -1.20).
One closed trade: quantity 1.00, exit price (0.4 x 1.087 + 0.6 x 1.086) / 1.0 = 1.0864,
commission -7.00, swap -1.20, pnl 80 + 60 - 7.00 - 1.20 = 131.80.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.metatrader.bridge import BridgeBatchError, parse_batch, read_batch
from connectors.statements.model import ParseContext

CTX = ParseContext("acc-bridge", None, "bridge:test")


def server(hour: int, minute: int) -> int:
    """Seconds of a trade-server wall time on 2026-03-02 (as MT5's DEAL_TIME gives it)."""
    return int(datetime(2026, 3, 2, hour, minute, tzinfo=UTC).timestamp())


def deal(
    deal_id: str, position: str, hour: int, minute: int, **fields: object
) -> dict[str, object]:
    return {"deal": deal_id, "position": position, "time": server(hour, minute), **fields}


EURUSD_IN = deal(
    "1",
    "5001",
    10,
    0,
    type="buy",
    entry="in",
    symbol="EURUSD",
    volume=1.0,
    price=1.085,
    commission=-3.5,
    sl=1.08,
    tp=1.095,
)
EURUSD_OUT1 = deal(
    "2",
    "5001",
    10,
    30,
    type="sell",
    entry="out",
    symbol="EURUSD",
    volume=0.4,
    price=1.087,
    commission=-1.4,
    profit=80.0,
)
EURUSD_OUT2 = deal(
    "3",
    "5001",
    10,
    45,
    type="sell",
    entry="out",
    symbol="EURUSD",
    volume=0.6,
    price=1.086,
    commission=-2.1,
    swap=-1.2,
    profit=60.0,
)


def batch(*deals: dict[str, object], equity: list[dict[str, object]] | None = None) -> bytes:
    return json.dumps(
        {
            "batch_id": "batch-0001",
            "login": "12345678",
            "currency": "usd",
            "server_offset_seconds": 7200,
            "deals": list(deals),
            "equity": equity or [],
        }
    ).encode()


def test_a_position_closed_in_two_parts_is_one_closed_trade() -> None:
    parsed = parse_batch(read_batch(batch(EURUSD_IN, EURUSD_OUT1, EURUSD_OUT2)), CTX)
    assert parsed.statement.errors == []
    [trade] = parsed.statement.trades
    assert trade.broker_trade_id == "5001"
    assert trade.status == "closed"
    assert trade.side == "long"
    assert trade.quantity == 1.0
    assert trade.entry_price == 1.085
    assert trade.exit_price == pytest.approx(1.0864)
    assert trade.entry_time == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert trade.exit_time == datetime(2026, 3, 2, 8, 45, tzinfo=UTC)
    assert trade.commission == pytest.approx(-7.0)
    assert trade.swap == pytest.approx(-1.2)
    assert trade.pnl == pytest.approx(131.8)
    assert trade.stop_loss == 1.08 and trade.take_profit == 1.095
    assert parsed.statement.meta.currency == "USD"


def test_a_partly_closed_position_stays_open_with_what_is_left() -> None:
    parsed = parse_batch(read_batch(batch(EURUSD_IN, EURUSD_OUT1)), CTX)
    [trade] = parsed.statement.trades
    assert trade.status == "open"
    assert trade.quantity == pytest.approx(0.6)  # 1.00 opened - 0.40 closed
    assert trade.pnl is None and trade.exit_price is None


def test_a_deal_sent_twice_in_one_batch_counts_once() -> None:
    parsed = parse_batch(read_batch(batch(EURUSD_IN, EURUSD_OUT1, EURUSD_OUT1, EURUSD_OUT2)), CTX)
    [trade] = parsed.statement.trades
    assert trade.pnl == pytest.approx(131.8)


def test_balance_deals_are_cash_and_credit_is_skipped() -> None:
    deposit = deal("9001", "", 9, 0, type="balance", profit=5000.0, comment="Deposit")
    credit = deal("9002", "", 9, 5, type="credit", profit=1000.0)
    parsed = parse_batch(read_batch(batch(deposit, credit)), CTX)
    [cash] = parsed.statement.cash
    assert (cash.amount, cash.kind, cash.broker_id) == (5000.0, "deposit", "9001")
    assert cash.ts == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    assert parsed.statement.skipped == 1
    assert parsed.statement.trades == []


def test_equity_snapshots_become_balance_events_in_utc() -> None:
    parsed = parse_batch(
        read_batch(
            batch(equity=[{"time": server(10, 55), "balance": 105131.8, "equity": 105120.0}])
        ),
        CTX,
    )
    [event] = parsed.snapshots
    assert event.ts == datetime(2026, 3, 2, 8, 55, tzinfo=UTC)
    assert (event.balance, event.equity) == (105131.8, 105120.0)


def test_bad_deals_are_reported_by_place_and_the_rest_lands() -> None:
    no_position = deal("7", "", 10, 0, type="buy", entry="in", symbol="X", volume=1, price=1)
    negative = deal("8", "6001", 10, 0, type="buy", entry="in", symbol="X", volume=-1, price=1)
    odd_type = deal("9", "", 10, 0, type="teleport")
    orphan_out = deal("10", "6002", 10, 0, type="sell", entry="out", symbol="X", volume=1, price=1)
    parsed = parse_batch(
        read_batch(batch(no_position, negative, odd_type, EURUSD_IN, orphan_out)), CTX
    )
    by_row = {e.row: (e.where, e.reason) for e in parsed.statement.errors}
    assert by_row[1] == ("deals[0].position", "a trade deal needs its position id")
    assert by_row[2][0] == "deals[1].volume"
    assert by_row[3] == ("deals[2].type", "unknown deal type 'teleport'")
    assert by_row[5] == ("position 6002", "no opening (in) deal among the position's deals")
    assert [t.broker_trade_id for t in parsed.statement.trades] == ["5001"]
    assert parsed.statement.rows_seen == 5


def test_more_closed_than_opened_is_an_error_not_a_trade() -> None:
    too_much = deal(
        "4", "5001", 11, 0, type="sell", entry="out", symbol="EURUSD", volume=0.5, price=1.09
    )
    parsed = parse_batch(read_batch(batch(EURUSD_IN, EURUSD_OUT1, EURUSD_OUT2, too_much)), CTX)
    assert parsed.statement.trades == []
    assert "closed volume 1.5 is more than the opened 1" in parsed.statement.errors[0].reason


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b'{"deals": []}', "batch_id"),
        (b'{"batch_id": "short"}', "batch_id"),
        (b'{"batch_id": "batch-0001", "smuggled": 1}', "smuggled"),
        (b'{"batch_id": "batch-0001", "server_offset_seconds": 90000}', "server_offset_seconds"),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_with_the_reason(body: bytes, says: str) -> None:
    with pytest.raises(BridgeBatchError, match=says):
        read_batch(body)
