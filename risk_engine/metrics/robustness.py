"""Robustness KPIs: R-multiple statistics, SQN, Kelly fraction, outlier-adjusted profit factor.

They ask whether the edge is real and spread over many trades, or rests on a
handful of lucky ones.
"""

from __future__ import annotations

import polars as pl

from risk_engine.metrics._expr import ratio, ratio_or_infinite
from risk_engine.metrics.config import KpiConfig
from risk_engine.metrics.prepare import WIN

S = "robustness."

ZERO_WHEN_NO_TRADES = [f"{S}trades_with_r", f"{S}total_r", f"{S}outlier_trades_removed"]

# A fraction x count that should be a whole number can land a hair above it
# (0.07 * 100 = 7.000000000000001); rounding noise must not remove one more trade.
_CEIL_SLACK = 1e-9


def trade_aggregations(config: KpiConfig) -> list[pl.Expr]:
    """Per-group R statistics and the top winning trades the outlier adjustment removes."""
    r = pl.col("r_multiple")
    is_win = pl.col("outcome") == WIN
    pnl = pl.col("pnl")
    removed = (
        (is_win.sum().cast(pl.Float64) * config.outlier_fraction - _CEIL_SLACK)
        .ceil()
        .clip(lower_bound=0)
        .cast(pl.Int64)
    )
    # Summed, not subtracted from gross profit, so that removing every winner leaves exactly 0.
    wins = is_win.sum().cast(pl.Int64)
    profit_left = (
        pnl.filter(is_win).bottom_k(wins - removed).sum() + pnl.filter((pnl > 0) & ~is_win).sum()
    )
    return [
        r.count().cast(pl.Int64).alias(f"{S}trades_with_r"),
        r.sum().alias(f"{S}total_r"),
        r.median().alias(f"{S}median_r"),
        r.std(ddof=1).alias(f"{S}std_r"),
        r.max().alias(f"{S}best_r"),
        r.min().alias(f"{S}worst_r"),
        removed.alias(f"{S}outlier_trades_removed"),
        profit_left.alias("_profit_without_outliers"),
    ]


def finishing() -> list[pl.Expr]:
    """SQN, Kelly and the outlier-adjusted profit factor from the per-group sums."""
    wins = pl.col("execution.wins")
    losses = pl.col("execution.losses")
    trades_with_r = pl.col(f"{S}trades_with_r")
    trades = pl.col("execution.trades")
    win_probability = wins / (wins + losses)
    payoff = pl.col("execution.payoff_ratio")
    return [
        pl.when(trades_with_r >= 2)
        .then(trades_with_r.sqrt() * ratio(pl.col("execution.expectancy_r"), pl.col(f"{S}std_r")))
        .otherwise(None)
        .alias(f"{S}sqn"),
        pl.when(trades >= 2)
        .then(trades.sqrt() * ratio(pl.col("execution.expectancy"), pl.col("execution.pnl_std")))
        .otherwise(None)
        .alias(f"{S}sqn_pnl"),
        pl.when((wins > 0) & (losses > 0))
        .then(win_probability - (1.0 - win_probability) / payoff)
        .otherwise(None)
        .alias(f"{S}kelly_fraction"),
        ratio_or_infinite(
            pl.col("_profit_without_outliers").fill_null(0.0),
            pl.col("execution.gross_loss"),
        ).alias(f"{S}outlier_adjusted_profit_factor"),
    ]
