"""The event contract: what parses, what is rejected, and how the error reads."""

from __future__ import annotations

import json

import pytest

from schemas import AccountEvent, BalanceEvent, BreachEvent, EventError, TradeEvent, parse_event

CONTRACT_EXAMPLES = [
    '{"type": "account", "account_id": "A1", "ruleset": "ftmo-2step",'
    ' "initial_balance": 100000, "currency": "USD"}',
    '{"type": "balance", "account_id": "A1", "ts": "2026-03-02T09:00:00Z",'
    ' "balance": 100000.0, "equity": 99850.0}',
    '{"type": "trade", "account_id": "A1", "broker_trade_id": "T-1001", "status": "closed",'
    ' "symbol": "EURUSD", "side": "long", "quantity": 1.0, "entry_price": 1.0850,'
    ' "exit_price": 1.0800, "entry_time": "2026-03-02T09:05:00Z",'
    ' "exit_time": "2026-03-02T09:40:00Z", "pnl": -500.0, "commission": -7.0, "swap": 0.0}',
]


@pytest.mark.parametrize("line", CONTRACT_EXAMPLES)
def test_the_contracts_examples_parse_and_round_trip(line: str) -> None:
    event = parse_event(line, "line 1")
    again = parse_event(event.model_dump_json(exclude_none=True), "line 1")
    assert again == event
    assert json.loads(line).keys() <= json.loads(event.model_dump_json()).keys()


def test_timestamps_with_an_offset_become_utc_and_serialise_with_z() -> None:
    event = parse_event(
        '{"type":"balance","account_id":"A1","ts":"2026-03-02T10:00:00+01:00",'
        '"balance":1,"equity":1}',
        "line 1",
    )
    assert isinstance(event, BalanceEvent)
    assert event.ts.isoformat() == "2026-03-02T09:00:00+00:00"
    assert '"ts":"2026-03-02T09:00:00Z"' in event.model_dump_json()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"type":"balance","account_id":"A1","ts":"2026-03-02T09:00:00","balance":1,"equity":1}',
            "line 7: field 'balance.ts': Input should have timezone info",
        ),
        (
            '{"type":"balance","account_id":"A1","ts":"2026-03-02T09:00:00Z","balance":1,'
            '"equity":1,"margin":5}',
            "line 7: field 'balance.margin': unknown field (not in the event contract)",
        ),
        (
            '{"type":"balance","account_id":"A1","ts":"2026-03-02T09:00:00Z","balance":"1",'
            '"equity":1}',
            "line 7: field 'balance.balance': Input should be a valid number",
        ),
        (
            '{"type":"balance","account_id":"A1","ts":"2026-03-02T09:00:00Z","equity":1}',
            "line 7: field 'balance.balance': required field is missing",
        ),
        ('{"type":"tick","account_id":"A1"}', "line 7: field 'type': expected one of"),
        ('{"account_id":"A1"}', "line 7: field 'type': required field is missing"),
        ("{not json", "line 7: not valid JSON"),
        (
            '{"type":"trade","account_id":"A1","broker_trade_id":"T","status":"open",'
            '"symbol":"X","side":"long","quantity":1,"entry_price":1,'
            '"entry_time":"2026-03-02T09:00:00Z","pnl":5}',
            "an open trade has no pnl",
        ),
        (
            '{"type":"trade","account_id":"A1","broker_trade_id":"T","status":"closed",'
            '"symbol":"X","side":"long","quantity":1,"entry_price":1,'
            '"entry_time":"2026-03-02T09:00:00Z"}',
            "a closed trade needs exit_price, exit_time, pnl",
        ),
        (
            '{"type":"trade","account_id":"A1","broker_trade_id":"T","status":"closed",'
            '"symbol":"X","side":"buy","quantity":1,"entry_price":1,"exit_price":1,'
            '"entry_time":"2026-03-02T09:00:00Z","exit_time":"2026-03-02T09:01:00Z","pnl":0}',
            "field 'trade.side'",
        ),
        (
            '{"type":"trade","account_id":"A1","broker_trade_id":"T","status":"closed",'
            '"symbol":"X","side":"long","quantity":1,"entry_price":1,"exit_price":1,'
            '"entry_time":"2026-03-02T09:00:00Z","exit_time":"2026-03-02T08:00:00Z","pnl":0}',
            "exit_time 2026-03-02T08:00:00Z is before entry_time",
        ),
        (
            '{"type":"trade","account_id":"A1","broker_trade_id":"T","status":"open",'
            '"symbol":"X","side":"long","quantity":0,"entry_price":1,'
            '"entry_time":"2026-03-02T09:00:00Z"}',
            "field 'trade.quantity': Input should be greater than 0",
        ),
        (
            '{"type":"balance","account_id":"A1","ts":"2026-03-02T09:00:00Z","balance":NaN,'
            '"equity":1}',
            "field 'balance.balance': Input should be a finite number",
        ),
    ],
)
def test_bad_events_are_rejected_naming_the_line_and_field(line: str, expected: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(line, "line 7")
    assert expected in str(caught.value)
    assert caught.value.where == "line 7"


def test_messages_are_frozen() -> None:
    event = parse_event(CONTRACT_EXAMPLES[0], "line 1")
    assert isinstance(event, AccountEvent)
    with pytest.raises(ValueError, match="frozen"):
        event.account_id = "B"  # type: ignore[misc]


def test_trade_event_time_is_the_exit_for_closed_and_the_entry_for_open() -> None:
    closed = parse_event(CONTRACT_EXAMPLES[2], "line 1")
    assert isinstance(closed, TradeEvent)
    assert closed.event_time == closed.exit_time


def test_the_breach_example_of_the_contract_validates() -> None:
    breach = BreachEvent.model_validate_json(
        '{"type": "breach", "breach_id": "x", "account_id": "A1", "rule": "max_daily_loss",'
        ' "level": 3, "ts": "2026-03-02T10:12:03Z", "value": 5150.0, "limit": 5000.0,'
        ' "threshold": 94850.0, "message": "Daily loss 5,150.00 reached the limit 5,000.00"}'
    )
    assert breach.level == 3
    with pytest.raises(ValueError, match="level"):
        BreachEvent.model_validate({**breach.model_dump(), "level": 4})
