"""Invariants of the KPIs over generated journals (Hypothesis)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import TradeEvent
from tests.unit.metrics.builders import account, kpis

START = datetime(2026, 3, 2, 8, tzinfo=UTC)
PNL = st.floats(min_value=-5_000, max_value=5_000, allow_nan=False).map(lambda x: round(x, 2))


@st.composite
def journals(draw: st.DrawFn, max_trades: int = 25) -> list[TradeEvent]:
    """Closed trades of one account; exits may tie, P&L may be 0."""
    count = draw(st.integers(min_value=0, max_value=max_trades))
    trades = []
    for number in range(count):
        entry = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 10)))
        exit_ = entry + timedelta(minutes=draw(st.integers(0, 60 * 30)))
        stop = draw(st.none() | st.floats(min_value=90, max_value=110))
        trades.append(
            TradeEvent(
                account_id="A1",
                broker_trade_id=f"T{number}",
                status="closed",
                symbol=draw(st.sampled_from(["EURUSD", "XAUUSD", "US30"])),
                side=draw(st.sampled_from(["long", "short"])),
                quantity=1.0,
                entry_price=100.0,
                exit_price=draw(st.floats(min_value=90, max_value=110)),
                entry_time=entry,
                exit_time=exit_,
                pnl=draw(PNL),
                stop_loss=stop,
                mfe=draw(st.none() | st.floats(min_value=0, max_value=1_000)),
                mae=draw(st.none() | st.floats(min_value=-1_000, max_value=0)),
                tags=tuple(
                    draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True))
                ),
            )
        )
    return trades


def _check_no_nan(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            _check_no_nan(item)
    elif isinstance(value, list):
        for item in value:
            _check_no_nan(item)


@settings(max_examples=30, deadline=None)
@given(journals(), st.randoms(use_true_random=False))
def test_profit_factor_and_win_rate_do_not_depend_on_trade_order(
    trades: list[TradeEvent], random: Any
) -> None:
    shuffled = list(trades)
    random.shuffle(shuffled)
    first, second = kpis(*trades)["execution"], kpis(*shuffled)["execution"]
    assert first["win_rate"] == second["win_rate"]
    assert first["trades"] == second["trades"]
    if isinstance(first["profit_factor"], float):
        assert math.isclose(first["profit_factor"], second["profit_factor"], rel_tol=1e-12)
    else:
        assert first["profit_factor"] == second["profit_factor"]


@settings(max_examples=30, deadline=None)
@given(journals(), st.randoms(use_true_random=False))
def test_the_equity_curve_does_not_depend_on_input_order(
    trades: list[TradeEvent], random: Any
) -> None:
    shuffled = list(trades)
    random.shuffle(shuffled)
    first, second = kpis(account(10_000.0), *trades), kpis(account(10_000.0), *shuffled)
    assert math.isclose(first["risk"]["max_drawdown"], second["risk"]["max_drawdown"], abs_tol=1e-6)
    assert [p["date"] for p in first["equity_curve"]] == [p["date"] for p in second["equity_curve"]]


@settings(max_examples=30, deadline=None)
@given(journals(), st.booleans())
def test_drawdowns_are_never_negative(trades: list[TradeEvent], with_account: bool) -> None:
    events = [account(10_000.0), *trades] if with_account else trades
    result = kpis(*events)
    risk = result["risk"]
    for key in ("max_drawdown", "current_drawdown", "average_drawdown", "max_drawdown_pct",
                "average_drawdown_pct"):  # fmt: skip
        assert risk[key] is None or risk[key] >= 0, key
    assert risk["current_drawdown"] <= risk["max_drawdown"]
    for point in result["equity_curve"]:
        assert point["drawdown"] >= 0
        assert point["drawdown_pct"] is None or point["drawdown_pct"] >= 0
    daily = result["returns"]["max_drawdown_pct"]
    assert daily is None or daily >= 0
    for key in (
        "max_drawdown_duration_days",
        "max_drawdown_recovery_days",
        "longest_drawdown_days",
    ):
        assert risk[key] is None or risk[key] >= 0, key


@settings(max_examples=30, deadline=None)
@given(journals())
def test_net_pnl_is_the_sum_of_trade_pnl(trades: list[TradeEvent]) -> None:
    result = kpis(*trades)
    execution = result["execution"]
    total = math.fsum(t.pnl or 0.0 for t in trades)
    assert math.isclose(execution["net_pnl"], total, abs_tol=1e-6)
    assert math.isclose(execution["gross_profit"] + execution["gross_loss"], total, abs_tol=1e-6)
    assert math.isclose(math.fsum(c["net_pnl"] for c in result["calendar"]), total, abs_tol=1e-6)
    for breakdown in ("by_symbol", "by_side", "by_weekday", "by_hour", "by_month", "by_session"):
        rows = result["breakdowns"][breakdown]
        assert sum(row["trades"] for row in rows) == len(trades)
        assert math.isclose(math.fsum(row["net_pnl"] for row in rows), total, abs_tol=1e-6)
    assert execution["wins"] + execution["losses"] + execution["breakevens"] == len(trades)


@settings(max_examples=30, deadline=None)
@given(journals(), st.booleans())
def test_results_are_plain_json(trades: list[TradeEvent], with_account: bool) -> None:
    events = [account(10_000.0), *trades] if with_account else trades
    result = kpis(*events)
    _check_no_nan(result)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
