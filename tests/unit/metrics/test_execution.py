"""Execution KPIs of the hand-checked week (see week.py): counts, rates, P&L, streaks."""

from __future__ import annotations

import math

import pytest

from risk_engine.metrics import KpiConfig
from tests.unit.metrics.builders import account, kpis, kpis_of, trade
from tests.unit.metrics.week import WEEK


def test_counts_and_rates_are_by_trades() -> None:
    execution = kpis(*WEEK)["execution"]
    assert execution["trades"] == 8
    assert (execution["wins"], execution["losses"], execution["breakevens"]) == (4, 3, 1)
    assert execution["win_rate"] == 0.5
    assert execution["loss_rate"] == 0.375
    assert execution["breakeven_rate"] == 0.125


def test_gross_and_net_pnl_and_costs() -> None:
    execution = kpis(*WEEK)["execution"]
    assert execution["gross_profit"] == 360.0  # 120 + 60 + 30 + 150
    assert execution["gross_loss"] == -140.0  # -40 - 80 - 20
    assert execution["net_pnl"] == 220.0
    assert execution["total_commission"] == -13.0
    assert execution["total_swap"] == -2.0
    # pnl is net of costs, so the price moves made 220 + 13 + 2.
    assert execution["pnl_before_costs"] == 235.0
    assert execution["total_quantity"] == 8.0


def test_profit_factor_expectancy_and_averages() -> None:
    execution = kpis(*WEEK)["execution"]
    assert execution["profit_factor"] == pytest.approx(360 / 140, rel=1e-15)
    assert execution["expectancy"] == 27.5  # 220 / 8
    assert execution["average_win"] == 90.0  # 360 / 4
    assert execution["average_loss"] == pytest.approx(-140 / 3, rel=1e-15)
    assert execution["payoff_ratio"] == pytest.approx(90 / (140 / 3), rel=1e-15)
    assert execution["largest_win"] == 150.0
    assert execution["largest_loss"] == -80.0
    assert execution["median_pnl"] == 15.0  # middle of -80 -40 -20 0 | 30 60 120 150
    # Squared deviations from 27.5 sum to 43,750; / 7 = 6,250.
    assert execution["pnl_std"] == pytest.approx(math.sqrt(6250), rel=1e-15)
    assert execution["expectancy_r"] is None  # no stops in the week


def test_streaks_follow_exit_order_and_a_breakeven_ends_them() -> None:
    # W L W W L B L W
    execution = kpis(*WEEK)["execution"]
    assert execution["max_consecutive_wins"] == 2
    assert execution["max_consecutive_losses"] == 1


def test_streaks_count_runs_at_the_start_and_end_of_the_journal() -> None:
    execution = kpis(
        trade(-1.0, "2026-03-02 09:00"),
        trade(-2.0, "2026-03-02 10:00"),
        trade(5.0, "2026-03-02 11:00"),
        trade(-3.0, "2026-03-02 12:00"),
        trade(-1.0, "2026-03-02 13:00"),
        trade(-1.0, "2026-03-02 14:00"),
    )["execution"]
    assert execution["max_consecutive_losses"] == 3
    assert execution["max_consecutive_wins"] == 1


def test_streaks_are_per_account() -> None:
    results = kpis_of(
        trade(1.0, "2026-03-02 09:00", account_id="A"),
        trade(1.0, "2026-03-02 10:00", account_id="B"),
        trade(1.0, "2026-03-02 11:00", account_id="A"),
        trade(-1.0, "2026-03-02 12:00", account_id="B"),
    )
    assert results["A"]["execution"]["max_consecutive_wins"] == 2
    assert results["B"]["execution"]["max_consecutive_wins"] == 1
    assert results["B"]["execution"]["max_consecutive_losses"] == 1


def test_breakeven_tolerance_moves_small_results_to_breakeven() -> None:
    execution = kpis(
        trade(0.4, "2026-03-02 09:00"),
        trade(-0.5, "2026-03-02 10:00"),
        trade(3.0, "2026-03-02 11:00"),
        config=KpiConfig(breakeven_tolerance=0.5),
    )["execution"]
    assert (execution["wins"], execution["losses"], execution["breakevens"]) == (1, 0, 2)
    # Gross figures still hold every positive and negative P&L, so they add up to net.
    assert execution["gross_profit"] == 3.4
    assert execution["gross_loss"] == -0.5
    assert execution["average_win"] == 3.0
    assert execution["average_loss"] is None


def test_all_wins_give_an_infinite_profit_factor_and_no_payoff_ratio() -> None:
    execution = kpis(account(), trade(10.0), trade(5.0, "2026-03-03 09:00"))["execution"]
    assert execution["profit_factor"] == "Infinity"
    assert execution["payoff_ratio"] is None
    assert execution["loss_rate"] == 0.0


def test_all_losses_give_a_zero_profit_factor() -> None:
    execution = kpis(account(), trade(-10.0), trade(-5.0, "2026-03-03 09:00"))["execution"]
    assert execution["profit_factor"] == 0.0
    assert execution["win_rate"] == 0.0
    assert execution["average_win"] is None
    assert execution["max_consecutive_losses"] == 2
