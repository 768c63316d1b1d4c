"""The columnar import's pure parts: the running balance as a cumulative sum gives what
the per-row ``round(balance + pnl, 8)`` gives, and the JSON lines built column by column
are the bytes ``event_bytes`` writes for the same events, which the contract's parser
(the pipeline's decoder) takes back as the same events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.statements import frames
from infra.bus.events import event_bytes
from schemas import parse_event
from schemas.events import BalanceEvent, TradeEvent
from schemas.parsing import event_json_validator


def _per_row(start: float, pnls: list[float]) -> list[float]:
    balances, balance = [], start
    for pnl in pnls:
        balance = round(balance + pnl, 8)
        balances.append(balance)
    return balances


CENTS = st.integers(-(10**9), 10**9).map(lambda n: n / 100)
EIGHT_DECIMALS = st.integers(-(10**14), 10**14).map(lambda n: n / 10**8)


@settings(max_examples=300, deadline=None)
@given(
    start=st.one_of(CENTS, EIGHT_DECIMALS, st.floats(-1e9, 1e9, allow_nan=False)),
    pnls=st.lists(
        st.one_of(CENTS, EIGHT_DECIMALS, st.floats(-1e8, 1e8, allow_nan=False)), max_size=40
    ),
)
def test_running_balance_is_the_per_row_rounding(start: float, pnls: list[float]) -> None:
    running = frames.running_balance(start, pl.Series(pnls, dtype=pl.Float64)).to_list()
    assert running == _per_row(start, pnls)


def test_running_balance_worked_examples() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 as floats; rounded to 8 decimals it is 0.3.
    assert frames.running_balance(0.1, pl.Series([0.2])).to_list() == [0.3]
    # cents over a prop account: 50 000 - 4.20 + 95.55 = 50 091.35
    assert frames.running_balance(50_000.0, pl.Series([-4.2, 95.55])).to_list() == [
        49_995.8,
        50_091.35,
    ]
    # more than 8 decimals and a huge balance take the step-by-step way, same result
    first = round(1e12 + 1e-9, 8)
    assert frames.running_balance(1e12, pl.Series([1e-9, 0.123456789])).to_list() == [
        first,
        round(first + 0.123456789, 8),
    ]


TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12
)
MONEY = st.one_of(
    st.floats(-1e20, 1e20, allow_nan=False, allow_infinity=False), st.sampled_from([0.0, -0.0])
)
PRICE = st.floats(1e-9, 1e20, allow_nan=False, allow_infinity=False)
TIME = st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1)).map(lambda t: t.replace(tzinfo=UTC))


@st.composite
def trades(draw: st.DrawFn) -> TradeEvent:
    entry = draw(TIME)
    closed = draw(st.booleans())
    return TradeEvent(
        account_id="acc",
        broker_trade_id=draw(TEXT),
        status="closed" if closed else "open",
        symbol=draw(TEXT),
        side=draw(st.sampled_from(["long", "short"])),
        quantity=draw(PRICE),
        entry_price=draw(PRICE),
        entry_time=entry,
        exit_price=draw(PRICE) if closed else None,
        exit_time=entry + draw(st.timedeltas(timedelta(0), timedelta(days=3))) if closed else None,
        pnl=draw(MONEY) if closed else None,
        commission=draw(MONEY),
        swap=draw(MONEY),
        stop_loss=draw(st.one_of(st.none(), PRICE)),
        take_profit=draw(st.one_of(st.none(), PRICE)),
        notes=draw(st.one_of(st.none(), TEXT)),
    )


@settings(max_examples=200, deadline=None)
@given(
    batch=st.lists(st.tuples(trades(), st.one_of(st.none(), MONEY)), min_size=1, max_size=6),
    account=st.text(alphabet='abcXYZ-_é1"', min_size=1, max_size=8),
)
def test_json_lines_are_the_event_bytes(
    batch: list[tuple[TradeEvent, float | None]], account: str
) -> None:
    """Rows with and without each optional field, escapes, microseconds or none: the
    frame's lines are the bytes of each trade then its balance event."""
    trades_ = [t.model_copy(update={"account_id": account}) for t, _ in batch]
    frame = pl.DataFrame(
        [{**frames.trade_record(t), "row": n} for n, t in enumerate(trades_)],
        schema=frames.TRADE_SCHEMA,
        orient="row",
    ).with_columns(
        pl.coalesce("exit_time", "entry_time").alias("event_time"),
        pl.Series("tick_balance", [b for _, b in batch], dtype=pl.Float64),
    )
    expected: list[bytes] = []
    for trade, balance in zip(trades_, [b for _, b in batch], strict=True):
        expected.append(event_bytes(trade))
        if balance is not None:
            tick = BalanceEvent(
                account_id=account, ts=trade.event_time, balance=balance, equity=balance
            )
            expected.append(event_bytes(tick))
    lines = frames.event_lines(frame, account)
    assert lines == expected
    decode = event_json_validator()
    for line, event in zip([ln for ln in lines if b'"type":"trade"' in ln], trades_, strict=True):
        assert decode(line, strict=True) == event
        assert parse_event(line, "frame") == event
    assert frames.trade_events(frame) == trades_
