"""The generic CSV's fast path (rows proved valid column-wise skip the per-row model
validation) gives exactly the events, row errors and counts of the reference path that
validates every row, on generated files with bad rows, repeats, decimal commas, zones
and offsets; and what it builds parses with the contract's own parser."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.generic_csv import parse
from connectors.generic_csv.parse import parse_generic
from connectors.generic_csv.wire import load_mapping
from connectors.statements.model import ParseContext
from connectors.statements.plan import TradeRow, plan
from connectors.statements.timezones import resolve_timezone
from schemas import event_json, parse_event
from schemas.events import BalanceEvent, TradeEvent

HEADER = "id;sym;dir;qty;opened;open_px;closed;close_px;profit;fee;swap;sl;tp;state;memo"
MAPPING_COMMA = """
[columns]
broker_trade_id = "id"
symbol = "sym"
side = "dir"
quantity = "qty"
entry_time = "opened"
entry_price = "open_px"
exit_time = "closed"
exit_price = "close_px"
pnl = "profit"
commission = "fee"
swap = "swap"
stop_loss = "sl"
take_profit = "tp"
status = "state"
notes = "memo"

[format]
delimiter = ";"
decimal = ","
timezone = "Europe/Helsinki"
pnl_is_net = false
time_format = "%d.%m.%Y %H:%M:%S"
"""
MAPPING_DOT = MAPPING_COMMA.replace('decimal = ","', 'decimal = "."').replace(
    "pnl_is_net = false", "pnl_is_net = true"
)

NUMBERS = st.sampled_from(
    ["1", "0", "-2", "1,5", "1.5", "1 536,25", "2,75", "inf", "nan", "", "abc", "1e400",
     "(3,5)", "0,1", "5000,25", "1.536,25", "-0"]
)  # fmt: skip
TIMES = st.sampled_from(
    ["06.01.2025 08:00:00", "06.01.2025 09:30:00", "30.03.2025 03:30:00",
     "26.10.2025 03:30:00", "31.12.2024 23:59:59", "", "bad", "32.01.2025 00:00:00"]
)  # fmt: skip
GOOD_NUMBERS = st.sampled_from(["1", "2,5", "1 536,25", "0,1", "5000,25", "12"])
GOOD_TIMES = st.sampled_from(["06.01.2025 08:00:00", "06.01.2025 09:30:00", "26.10.2025 03:30:00"])
GOOD_ROW = st.tuples(
    st.sampled_from(["T1", "T2", "T3", "T4"]),
    st.sampled_from(["ES", "EURUSD"]),
    st.sampled_from(["buy", "SELL", "long", "s"]),
    GOOD_NUMBERS,
    GOOD_TIMES,
    GOOD_NUMBERS,
    st.sampled_from(["", "06.01.2025 09:30:00", "26.10.2025 04:30:00"]),
    GOOD_NUMBERS,
    st.sampled_from(["-10", "25,5", "0"]),
    st.sampled_from(["", "-4,2"]),
    st.sampled_from(["", "0", "-1"]),
    st.sampled_from(["", "0", "1"]),
    st.sampled_from(["", "2"]),
    st.sampled_from(["", "open", "CLOSED"]),
    st.sampled_from(["", "note"]),
)
ROW = st.tuples(
    st.sampled_from(["T1", "T2", "T3", "", "x" * 129, "T4"]),
    st.sampled_from(["ES", "", "EURUSD", "y" * 65]),
    st.sampled_from(["buy", "SELL", "long", "s", "flat", ""]),
    NUMBERS,
    TIMES,
    NUMBERS,
    TIMES,
    NUMBERS,
    NUMBERS,
    NUMBERS,
    NUMBERS,
    NUMBERS,
    NUMBERS,
    st.sampled_from(["", "open", "Closed", "pending"]),
    st.sampled_from(["", "note"]),
)


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    return ("\n".join([HEADER, *(";".join(row) for row in rows)]) + "\n").encode()


def _same(data: bytes, mapping_text: str, ctx: ParseContext) -> int:
    mapping = load_mapping(mapping_text)
    fast = parse_generic(data, mapping, ctx)
    reference = parse_generic(data, mapping, ctx, fast=False)
    assert fast.trades == reference.trades
    assert [event_json(t) for t in fast.trades] == [event_json(t) for t in reference.trades]
    assert fast.trade_rows == reference.trade_rows
    assert fast.errors == reference.errors
    assert fast.rows_seen == reference.rows_seen
    for trade in fast.trades:
        assert parse_event(event_json(trade), "fast path") == trade
    return len(fast.trades)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.one_of(GOOD_ROW, ROW), min_size=1, max_size=25),
    decimal_comma=st.booleans(),
    zone=st.sampled_from([None, "UTC+3", "GMT+2/+3-US", "America/New_York"]),
    account=st.sampled_from(["acc-1", "has space"]),
)
def test_fast_path_matches_the_validated_path(
    rows: list[tuple[str, ...]], decimal_comma: bool, zone: str | None, account: str
) -> None:
    ctx = ParseContext(account, resolve_timezone(zone) if zone else None, "gen.csv")
    _same(_csv(rows), MAPPING_COMMA if decimal_comma else MAPPING_DOT, ctx)


def test_worked_example_good_and_bad_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three rows by hand: a closed trade with decimal commas in Helsinki time (UTC+2 in
    January), an open trade, and a closed one whose exit is before its entry."""
    rows = [
        ("T1", "ES", "buy", "2", "06.01.2025 10:00:00", "5000,25", "06.01.2025 10:05:00",
         "5001,25", "100,00", "-4,20", "-0,80", "", "", "", ""),
        ("T2", "NQ", "sell", "1", "06.01.2025 11:00:00", "20000", "", "", "", "", "", "0",
         "", "", "memo"),
        ("T3", "ES", "buy", "1", "06.01.2025 12:00:00", "5000", "06.01.2025 11:00:00",
         "5001", "50", "", "", "", "", "", ""),
    ]  # fmt: skip
    ctx = ParseContext("acc-1", None, "hand.csv")
    data = _csv(rows)
    assert _same(data, MAPPING_COMMA, ctx) == 2
    built: list[str] = []
    build = parse._Builder.__call__

    def spy(self: parse._Builder, values: tuple[Any, ...]) -> TradeEvent:
        event = build(self, values)
        built.append(event.broker_trade_id)
        return event

    monkeypatch.setattr(parse._Builder, "__call__", spy)
    parsed = parse_generic(data, load_mapping(MAPPING_COMMA), ctx)
    assert built == ["T1", "T2"]  # the bad row took the model's validation
    first, second = parsed.trades
    assert first == TradeEvent(
        account_id="acc-1",
        broker_trade_id="T1",
        status="closed",
        symbol="ES",
        side="long",
        quantity=2.0,
        entry_price=5000.25,
        entry_time=datetime(2025, 1, 6, 8, 0, tzinfo=UTC),
        exit_price=5001.25,
        exit_time=datetime(2025, 1, 6, 8, 5, tzinfo=UTC),
        pnl=95.0,  # 100.00 - 4.20 - 0.80: the mapping says pnl is gross
        commission=-4.2,
        swap=-0.8,
    )
    assert second.status == "open" and second.side == "short" and second.stop_loss is None
    assert second.notes == "memo" and second.entry_time == datetime(2025, 1, 6, 9, tzinfo=UTC)
    assert [(e.row, e.where) for e in parsed.errors] == [(4, "row")]
    assert "before entry_time" in parsed.errors[0].reason


@settings(max_examples=40, deadline=None)
@given(
    pnls=st.lists(
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([1e308, -0.0])),
        min_size=1,
        max_size=20,
    ),
    account=st.sampled_from(["acc-1", "has space"]),
)
def test_balance_events_the_plan_builds_are_what_the_model_builds(
    pnls: list[float], account: str
) -> None:
    start = datetime(2025, 1, 6, 8, tzinfo=UTC)
    rows = [
        TradeRow(
            TradeEvent.model_construct(
                account_id=account,
                broker_trade_id=f"T{n}",
                status="closed",
                symbol="ES",
                side="long",
                quantity=1.0,
                entry_price=1.0,
                entry_time=start,
                exit_price=1.0,
                exit_time=start + timedelta(minutes=n),
                pnl=pnl,
            ),
            n + 2,
        )
        for n, pnl in enumerate(pnls)
    ]
    try:
        decided = plan(
            rows, [], account_id=account, stored_status={}, stored_cash=set(),
            initial_balance=1e308,
        )  # fmt: skip
    except ValidationError as exc:  # the model refuses an infinite balance, as before
        assert account == "has space" or "finite" in str(exc)
        return
    assert len(decided.balances) == len(pnls)
    for tick in decided.balances:
        rebuilt = BalanceEvent(
            account_id=tick.account_id, ts=tick.ts, balance=tick.balance, equity=tick.equity
        )
        assert tick == rebuilt and event_json(tick) == event_json(rebuilt)
        assert parse_event(event_json(tick), "plan") == tick


def test_worked_example_running_balance() -> None:
    """50,000 start, +95.5, then -20.25: ticks of 50,095.5 and 50,075.25."""
    start = datetime(2025, 1, 6, 8, tzinfo=UTC)
    rows = [
        TradeRow(
            TradeEvent(
                account_id="acc-1", broker_trade_id=f"T{n}", status="closed", symbol="ES",
                side="long", quantity=1.0, entry_price=1.0, entry_time=start,
                exit_price=1.0, exit_time=start + timedelta(minutes=n + 1), pnl=pnl,
            ),
            n + 2,
        )
        for n, pnl in enumerate([95.5, -20.25])
    ]  # fmt: skip
    decided = plan(
        rows, [], account_id="acc-1", stored_status={}, stored_cash=set(),
        initial_balance=50_000.0,
    )  # fmt: skip
    assert [(t.ts.minute, t.balance, t.equity) for t in decided.balances] == [
        (1, 50_095.5, 50_095.5),
        (2, 50_075.25, 50_075.25),
    ]
    assert [e.type for e in decided.events] == ["trade", "balance", "trade", "balance"]
