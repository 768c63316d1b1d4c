"""R-multiples from stop losses, SQN, Kelly and the outlier-adjusted profit factor."""

from __future__ import annotations

import math

import pytest

from risk_engine.metrics import KpiConfig
from tests.unit.metrics.builders import kpis, trade
from tests.unit.metrics.week import WEEK


def test_r_multiple_is_the_price_move_over_the_initial_risk() -> None:
    result = kpis(
        # long from 100, stop 98 (risk 2), out at 105: +2.5 R
        trade(50.0, "2026-03-02 09:00", entry_price=100.0, stop_loss=98.0, exit_price=105.0),
        # short from 50, stop 51 (risk 1), out at 51.5 (slipped past the stop): -1.5 R
        trade(
            -30.0,
            "2026-03-02 10:00",
            side="short",
            entry_price=50.0,
            stop_loss=51.0,
            exit_price=51.5,
        ),
        # long with its stop above the entry (already trailed): no initial risk, no R
        trade(10.0, "2026-03-02 11:00", entry_price=100.0, stop_loss=101.0, exit_price=102.0),
        # no stop at all: no R
        trade(-5.0, "2026-03-02 12:00", entry_price=100.0, exit_price=99.0),
    )
    robustness = result["robustness"]
    assert robustness["trades_with_r"] == 2
    assert robustness["total_r"] == pytest.approx(1.0, rel=1e-12)
    assert robustness["best_r"] == pytest.approx(2.5, rel=1e-12)
    assert robustness["worst_r"] == pytest.approx(-1.5, rel=1e-12)
    assert robustness["median_r"] == pytest.approx(0.5, rel=1e-12)
    assert robustness["std_r"] == pytest.approx(math.sqrt(8), rel=1e-12)  # (2² + 2²) / 1
    assert result["execution"]["expectancy_r"] == pytest.approx(0.5, rel=1e-12)
    # SQN = sqrt(2) * 0.5 / sqrt(8)
    assert robustness["sqn"] == pytest.approx(0.25, rel=1e-12)


def test_sqn_on_money_kelly_and_outliers_of_the_week() -> None:
    robustness = kpis(*WEEK)["robustness"]
    # sqrt(8) * 27.5 / sqrt(6250)
    assert robustness["sqn_pnl"] == pytest.approx(math.sqrt(8) * 27.5 / math.sqrt(6250), rel=1e-12)
    # p = 4 / 7, payoff = 90 / (140 / 3) = 27 / 14: 4/7 - (3/7) / (27/14) = 22 / 63
    assert robustness["kelly_fraction"] == pytest.approx(22 / 63, rel=1e-12)
    # 5 % of 4 winners rounds up to 1: without the 150 winner, (360 - 150) / 140.
    assert robustness["outlier_trades_removed"] == 1
    assert robustness["outlier_adjusted_profit_factor"] == pytest.approx(1.5, rel=1e-12)
    assert robustness["sqn"] is None  # no stops


def test_outlier_fraction_removes_the_largest_winners() -> None:
    trades = [
        trade(float(pnl), f"2026-03-02 {9 + i:02d}:00")
        for i, pnl in enumerate([10, 20, 30, 40, -50])
    ]
    robustness = kpis(*trades, config=KpiConfig(outlier_fraction=0.5))["robustness"]
    assert robustness["outlier_trades_removed"] == 2  # half of 4 winners
    assert robustness["outlier_adjusted_profit_factor"] == pytest.approx(30 / 50, rel=1e-12)
    none_removed = kpis(*trades, config=KpiConfig(outlier_fraction=0.0))["robustness"]
    assert none_removed["outlier_trades_removed"] == 0
    assert none_removed["outlier_adjusted_profit_factor"] == pytest.approx(100 / 50, rel=1e-12)


def test_a_whole_number_of_outliers_is_not_rounded_up_by_floating_point_noise() -> None:
    # 0.07 * 100 is 7.000000000000001 in floating point; seven winners go, not eight.
    trades = [trade(1.0 + i, f"2026-03-{2 + i // 12:02d} {9 + i % 12:02d}:00") for i in range(100)]
    robustness = kpis(*trades, config=KpiConfig(outlier_fraction=0.07))["robustness"]
    assert robustness["outlier_trades_removed"] == 7


def test_removing_every_winner_leaves_exactly_no_profit() -> None:
    robustness = kpis(
        trade(0.1), trade(0.2, "2026-03-02 10:00"), config=KpiConfig(outlier_fraction=0.9)
    )["robustness"]
    assert robustness["outlier_trades_removed"] == 2
    assert robustness["outlier_adjusted_profit_factor"] is None  # 0 / 0


def test_kelly_needs_both_wins_and_losses() -> None:
    assert kpis(trade(10.0), trade(5.0, "2026-03-02 10:00"))["robustness"]["kelly_fraction"] is None
    assert (
        kpis(trade(-10.0), trade(-5.0, "2026-03-02 10:00"))["robustness"]["kelly_fraction"] is None
    )
