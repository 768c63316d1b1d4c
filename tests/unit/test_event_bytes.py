"""The bulk publisher's JSON (orjson over the model's fields) says what the model's own
JSON says: it parses back to the same event, and for the usual values it is the same
bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.bus.events import event_bytes
from schemas import event_json, parse_event
from schemas.events import AccountEvent, BalanceEvent, TradeEvent

FLOATS = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(1e-9, 1e12, allow_nan=False, allow_infinity=False)
TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(
    entry=TIMES,
    held=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    quantity=POSITIVE,
    price=POSITIVE,
    pnl=FLOATS,
    commission=FLOATS,
    stop=st.none() | POSITIVE,
    notes=st.none() | st.text(max_size=20),
    closed=st.booleans(),
)
def test_trade_json_parses_back_to_the_same_trade(
    entry: datetime,
    held: timedelta,
    quantity: float,
    price: float,
    pnl: float,
    commission: float,
    stop: float | None,
    notes: str | None,
    closed: bool,
) -> None:
    trade = TradeEvent(
        account_id="acc-1", broker_trade_id="T1", status="closed" if closed else "open",
        symbol="ES", side="long", quantity=quantity, entry_price=price, entry_time=entry,
        exit_price=price if closed else None, exit_time=entry + held if closed else None,
        pnl=pnl if closed else None, commission=commission, stop_loss=stop, notes=notes,
    )  # fmt: skip
    assert parse_event(event_bytes(trade), "bytes") == trade


@settings(max_examples=200, deadline=None)
@given(ts=TIMES, balance=FLOATS, equity=FLOATS)
def test_balance_json_parses_back_to_the_same_event(
    ts: datetime, balance: float, equity: float
) -> None:
    tick = BalanceEvent(account_id="acc-1", ts=ts, balance=balance, equity=equity)
    assert parse_event(event_bytes(tick), "bytes") == tick


def test_usual_values_give_the_same_bytes_as_the_model() -> None:
    ts = datetime(2025, 1, 6, 8, 0, 5, tzinfo=UTC)
    trade = TradeEvent(
        account_id="acc-1", broker_trade_id="T1", status="closed", symbol="ES", side="short",
        quantity=2.0, entry_price=5000.25, entry_time=ts, exit_price=4999.5,
        exit_time=ts + timedelta(seconds=30, microseconds=120), pnl=70.8, commission=-4.2,
    )  # fmt: skip
    tick = BalanceEvent(account_id="acc-1", ts=ts, balance=50_070.8, equity=50_070.8)
    account = AccountEvent(
        account_id="acc-1", ruleset="topstep-50k", initial_balance=50_000.0, currency="USD"
    )
    for event in (trade, tick, account):
        assert event_bytes(event) == event_json(event).encode()
    assert event_bytes(tick) == (
        b'{"type":"balance","account_id":"acc-1","ts":"2025-01-06T08:00:05Z",'
        b'"balance":50070.8,"equity":50070.8}'
    )
