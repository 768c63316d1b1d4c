"""The closed-trade equity curve: drawdown amount, %, dates, durations, episodes, recovery."""

from __future__ import annotations

import pytest

from tests.unit.metrics.builders import account, kpis, kpis_of, snapshot, trade
from tests.unit.metrics.week import WEEK


def test_deepest_drawdown_of_the_week() -> None:
    # Peak 170 (equity 10,170) after trade 4 (Tue 14:00); trough 70 after trade 7
    # (Thu 16:00); back above the peak with trade 8 (Thu 17:00).
    risk = kpis(*WEEK)["risk"]
    assert risk["max_drawdown"] == 100.0
    assert risk["max_drawdown_pct"] == pytest.approx(100 / 10_170, rel=1e-15)
    assert risk["max_drawdown_start"] == "2026-03-03T14:00:00Z"
    assert risk["max_drawdown_trough"] == "2026-03-05T16:00:00Z"
    assert risk["max_drawdown_end"] == "2026-03-05T17:00:00Z"
    assert risk["max_drawdown_duration_days"] == pytest.approx(2.125, rel=1e-15)  # 2 d 3 h
    assert risk["max_drawdown_recovery_days"] == pytest.approx(1 / 24, rel=1e-15)


def test_episodes_averages_and_recovery_factor() -> None:
    # Two episodes: 40 below the 10,120 peak (Mon), 100 below the 10,170 peak.
    risk = kpis(*WEEK)["risk"]
    assert risk["drawdown_episodes"] == 2
    assert risk["average_drawdown"] == 70.0
    assert risk["average_drawdown_pct"] == pytest.approx((40 / 10_120 + 100 / 10_170) / 2)
    assert risk["longest_drawdown_days"] == pytest.approx(2.125, rel=1e-15)
    assert risk["current_drawdown"] == 0.0
    assert risk["recovery_factor"] == 2.2  # 220 / 100


def test_a_drawdown_not_yet_recovered_has_no_end() -> None:
    risk = kpis(
        account(1_000.0),
        trade(50.0, "2026-03-02 09:00", "2026-03-02 10:00"),
        trade(-30.0, "2026-03-03 09:00", "2026-03-03 10:00"),
        trade(10.0, "2026-03-04 09:00", "2026-03-04 10:00"),
    )["risk"]
    assert risk["max_drawdown"] == 30.0
    assert risk["max_drawdown_end"] is None
    assert risk["max_drawdown_recovery_days"] is None
    # Still open: duration runs from the peak to the last exit.
    assert risk["max_drawdown_duration_days"] == 2.0
    assert risk["current_drawdown"] == 20.0


def test_a_loss_on_the_first_trade_is_a_drawdown_from_the_starting_balance() -> None:
    risk = kpis(
        account(1_000.0),
        trade(-100.0, "2026-03-02 09:00", "2026-03-02 12:00"),
        trade(150.0, "2026-03-03 09:00", "2026-03-03 12:00"),
    )["risk"]
    assert risk["max_drawdown"] == 100.0
    assert risk["max_drawdown_pct"] == 0.1  # of the 1,000 starting balance
    assert risk["max_drawdown_start"] == "2026-03-02T09:00:00Z"  # the first entry
    assert risk["max_drawdown_trough"] == "2026-03-02T12:00:00Z"
    assert risk["max_drawdown_end"] == "2026-03-03T12:00:00Z"
    assert risk["max_drawdown_duration_days"] == 1.125


def test_drawdown_pct_needs_a_starting_balance_but_the_amount_does_not() -> None:
    risk = kpis(trade(10.0), trade(-4.0, "2026-03-02 11:00"))["risk"]
    assert risk["max_drawdown"] == 4.0
    assert risk["max_drawdown_pct"] is None
    assert risk["average_drawdown_pct"] is None


def test_starting_balance_is_rebuilt_from_the_first_snapshot() -> None:
    # No account event: the first snapshot (10:30) shows 5,100 after a +100 trade,
    # so the account started at 5,000.
    result = kpis(
        trade(100.0, "2026-03-02 09:00", "2026-03-02 10:00"),
        snapshot("2026-03-02 10:30", 5_100.0),
        trade(-51.0, "2026-03-02 11:00", "2026-03-02 12:00"),
    )
    assert result["starting_balance"] == 5_000.0
    assert result["risk"]["max_drawdown_pct"] == pytest.approx(51 / 5_100, rel=1e-15)


def test_trades_closed_at_the_same_instant_are_one_step_of_the_curve() -> None:
    # -50 and +60 close together: whatever their order, the curve goes 0 -> +10.
    both = ("2026-03-02 09:00", "2026-03-02 10:00")
    risk = kpis(trade(-50.0, *both), trade(60.0, *both))["risk"]
    assert risk["max_drawdown"] == 0.0
    assert risk["drawdown_episodes"] == 0


def test_rounding_noise_is_not_a_drawdown() -> None:
    # 0.1 + 0.1 = 0.2; then -1.1 and +1.1 come back to 0.19999999999999996 in binary
    # floating point: that is the peak re-reached, not a drawdown of 4e-17 still open.
    risk = kpis(
        trade(0.1, "2026-03-02 09:00"),
        trade(0.1, "2026-03-02 10:00"),
        trade(-1.1, "2026-03-02 11:00"),
        trade(1.1, "2026-03-02 12:00"),
        trade(-0.05, "2026-03-02 13:00"),
    )["risk"]
    assert risk["drawdown_episodes"] == 2
    assert risk["max_drawdown"] == pytest.approx(1.1, rel=1e-12)
    assert risk["max_drawdown_end"] == "2026-03-02T13:00:00Z"
    assert risk["current_drawdown"] == pytest.approx(0.05, rel=1e-9)


def test_daily_equity_curve_holds_end_of_day_values() -> None:
    curve = kpis(*WEEK)["equity_curve"]
    assert curve == [
        {
            "date": "2026-03-02",
            "cumulative_pnl": 80.0,
            "equity": 10_080.0,
            "drawdown": 40.0,
            "drawdown_pct": 40 / 10_120,
        },
        {
            "date": "2026-03-03",
            "cumulative_pnl": 170.0,
            "equity": 10_170.0,
            "drawdown": 0.0,
            "drawdown_pct": 0.0,
        },
        {
            "date": "2026-03-04",
            "cumulative_pnl": 90.0,
            "equity": 10_090.0,
            "drawdown": 80.0,
            "drawdown_pct": 80 / 10_170,
        },
        {
            "date": "2026-03-05",
            "cumulative_pnl": 220.0,
            "equity": 10_220.0,
            "drawdown": 0.0,
            "drawdown_pct": 0.0,
        },
    ]


def test_several_accounts_together_make_one_curve() -> None:
    # A: +100 then -80; B: -50 then +60 (interleaved). Together: 100, 50, -30, 30.
    events = (
        account(1_000.0, "A"),
        account(2_000.0, "B"),
        trade(100.0, "2026-03-02 09:00", account_id="A"),
        trade(-50.0, "2026-03-02 10:00", account_id="B"),
        trade(-80.0, "2026-03-02 11:00", account_id="A"),
        trade(60.0, "2026-03-02 12:00", account_id="B"),
    )
    book = kpis(*events)
    assert book["account_ids"] == ["A", "B"]
    assert book["starting_balance"] == 3_000.0
    assert book["risk"]["max_drawdown"] == 130.0  # from +100 down to -30
    assert book["risk"]["max_drawdown_pct"] == pytest.approx(130 / 3_100, rel=1e-15)
    per_account = kpis_of(*events)
    assert per_account["A"]["risk"]["max_drawdown"] == 80.0
    assert per_account["B"]["risk"]["max_drawdown"] == 50.0
