"""Return KPIs agree with quantstats to 1e-9 relative on the same daily returns.

quantstats is a test-only dependency; the engine never imports it. Each series is
turned into daily equity snapshots, the engine derives its daily returns from them,
and quantstats is given exactly those returns.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import quantstats as qs

from risk_engine.metrics import Journal, KpiConfig, compute_kpis, daily_returns_frame
from tests.unit.metrics.builders import kpis, trade

QS: Any = qs.stats  # partly annotated; called as the reference only

SERIES = [
    # seed, days, daily drift, daily volatility, fat tails (Student t dof, 0 = normal)
    (1, 252, 0.0005, 0.010, 0),
    (2, 500, -0.0003, 0.015, 4),
    (3, 60, 0.0010, 0.008, 3),
    (4, 1_000, 0.0002, 0.020, 0),
    (5, 12, 0.0000, 0.012, 5),
]


def _series(seed: int, days: int, drift: float, vol: float, dof: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(dof, days) if dof else rng.standard_normal(days)
    returns: np.ndarray = drift + vol * shocks / (np.sqrt(dof / (dof - 2)) if dof else 1.0)
    return returns


def _journal(returns: np.ndarray) -> Journal:
    equity = 100_000.0 * np.cumprod(1.0 + returns)
    start = datetime(2025, 1, 1, 21, tzinfo=UTC)
    times = [start + timedelta(days=i) for i in range(len(returns))]
    balances = pl.DataFrame({"account_id": "A", "ts": times, "balance": equity, "equity": equity})
    accounts = pl.DataFrame(
        {"account_id": ["A"], "initial_balance": [100_000.0], "currency": ["USD"]}
    )
    return Journal(balances=balances, accounts=accounts)


def _reference(series: Any, rf: float) -> dict[str, float]:
    """quantstats' figure for each overlapping KPI (drawdowns made positive, as we report them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "sharpe": QS.sharpe(series, rf=rf),
            "sortino": QS.sortino(series, rf=rf),
            "volatility": QS.volatility(series),
            "cagr": QS.cagr(series),
            "calmar": QS.calmar(series),
            "max_drawdown_pct": -QS.max_drawdown(series),
            "ulcer_index": QS.ulcer_index(series),
            "var": QS.value_at_risk(series),
            "cvar": QS.cvar(series),
            "cvar_historical": QS.cvar(series, method="historical"),
            "skew": QS.skew(series),
            "kurtosis": QS.kurtosis(series),
            "tail_ratio": QS.tail_ratio(series),
            "risk_of_ruin": QS.risk_of_ruin(series),
            "daily_win_rate": QS.win_rate(series),
            "total_return": QS.comp(series),
            "best_day": QS.best(series),
            "worst_day": QS.worst(series),
            "average_daily_return": series.mean(),
            # quantstats reports |sum of returns| / |max drawdown|; we keep the sign.
            "recovery_factor": QS.recovery_factor(series),
        }


@pytest.mark.parametrize("rf", [0.0, 0.04])
@pytest.mark.parametrize(("seed", "days", "drift", "vol", "dof"), SERIES)
def test_return_kpis_match_quantstats(
    seed: int, days: int, drift: float, vol: float, dof: int, rf: float
) -> None:
    journal = _journal(_series(seed, days, drift, vol, dof))
    config = KpiConfig(risk_free_rate=rf)
    ours = compute_kpis(journal, config)["returns"]
    frame = daily_returns_frame(journal, config, combined=True)
    series = pd.Series(
        frame.get_column("return").to_numpy(), index=pd.to_datetime(frame["day"].to_list())
    )
    assert ours["days"] == days == len(series)
    reference = _reference(series, rf)
    total = float(series.sum())
    for key, expected in reference.items():
        value = ours[key]
        if key == "recovery_factor":
            assert np.sign(value) == np.sign(total)
            value = abs(value)
        assert value == pytest.approx(float(expected), rel=1e-9), key


def test_historical_var_is_the_linear_quantile_quantstats_cuts_its_tail_at() -> None:
    returns = _series(7, 300, 0.0, 0.01, 3)
    journal = _journal(returns)
    ours = compute_kpis(journal)["returns"]
    frame = daily_returns_frame(journal, combined=True)
    series = pd.Series(frame.get_column("return").to_numpy())
    assert ours["var_historical"] == pytest.approx(float(series.quantile(0.05)), rel=1e-12)


def test_trade_level_ratios_match_quantstats_on_the_pnl_series() -> None:
    """quantstats' period formulas, fed the trade P&L series, are the journal's trade formulas."""
    rng = np.random.default_rng(11)
    pnls = [float(x) for x in np.round(rng.normal(3, 40, 200), 2)]
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    trades = [
        trade(pnl, (start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M"))
        for i, pnl in enumerate(pnls)
    ]
    ours = kpis(*trades)
    series = pd.Series(pnls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ours["execution"]["profit_factor"] == pytest.approx(
            QS.profit_factor(series, prepare_returns=False), rel=1e-9
        )
        assert ours["execution"]["payoff_ratio"] == pytest.approx(
            QS.payoff_ratio(series, prepare_returns=False), rel=1e-9
        )
        assert ours["robustness"]["kelly_fraction"] == pytest.approx(
            QS.kelly_criterion(series, prepare_returns=False), rel=1e-9
        )
        assert ours["execution"]["max_consecutive_wins"] == QS.consecutive_wins(
            series, prepare_returns=False
        )
        assert ours["execution"]["max_consecutive_losses"] == QS.consecutive_losses(
            series, prepare_returns=False
        )
