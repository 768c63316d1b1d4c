"""Execution KPIs: counts, rates, gross and net P&L, profit factor, expectancy, streaks.

Gross profit and loss sum every positive and negative P&L, so that
``net_pnl == gross_profit + gross_loss`` always holds; wins and losses (and
their averages) honour the breakeven tolerance.
"""

from __future__ import annotations

import polars as pl

from risk_engine.metrics._expr import count_rate, ratio, ratio_or_infinite
from risk_engine.metrics.prepare import GID, LOSS, WIN, first_of_group, per_group

S = "execution."

ZERO_WHEN_NO_TRADES = [
    f"{S}{key}"
    for key in (
        "trades",
        "wins",
        "losses",
        "breakevens",
        "gross_profit",
        "gross_loss",
        "net_pnl",
        "pnl_before_costs",
        "total_commission",
        "total_swap",
        "total_quantity",
        "max_consecutive_wins",
        "max_consecutive_losses",
    )
]


def trade_aggregations() -> list[pl.Expr]:
    """Per-group sums and counts over the prepared trades."""
    pnl = pl.col("pnl")
    is_win = pl.col("outcome") == WIN
    is_loss = pl.col("outcome") == LOSS
    return [
        pl.len().cast(pl.Int64).alias(f"{S}trades"),
        is_win.sum().cast(pl.Int64).alias(f"{S}wins"),
        is_loss.sum().cast(pl.Int64).alias(f"{S}losses"),
        (pl.col("outcome") == 0).sum().cast(pl.Int64).alias(f"{S}breakevens"),
        pnl.clip(lower_bound=0.0).sum().alias(f"{S}gross_profit"),
        pnl.clip(upper_bound=0.0).sum().alias(f"{S}gross_loss"),
        pnl.sum().alias(f"{S}net_pnl"),
        pl.col("pnl_before_costs").sum().alias(f"{S}pnl_before_costs"),
        pl.col("commission").sum().alias(f"{S}total_commission"),
        pl.col("swap").sum().alias(f"{S}total_swap"),
        pl.col("quantity").sum().alias(f"{S}total_quantity"),
        pl.col("r_multiple").mean().alias(f"{S}expectancy_r"),
        pnl.filter(is_win).mean().alias(f"{S}average_win"),
        pnl.filter(is_loss).mean().alias(f"{S}average_loss"),
        pnl.filter(is_win).max().alias(f"{S}largest_win"),
        pnl.filter(is_loss).min().alias(f"{S}largest_loss"),
        pnl.median().alias(f"{S}median_pnl"),
        pnl.std(ddof=1).alias(f"{S}pnl_std"),
    ]


def _run_length(hit: pl.Expr) -> pl.Expr:
    """On each row, how many rows in a row (this one included) have ``hit``, within the group."""
    hits_so_far = hit.cast(pl.Int64).cum_sum()
    # The count just before the current run began: reset on a miss and on a group's first row.
    before_run = (
        pl.when(~hit)
        .then(hits_so_far)
        .when(first_of_group())
        .then(hits_so_far - 1)
        .otherwise(None)
        .forward_fill()
    )
    return hits_so_far - before_run


def streaks(sequence: pl.LazyFrame, *, single: bool) -> pl.LazyFrame:
    """Longest runs of wins and of losses per group, in exit order; a breakeven ends both."""
    outcome = pl.col("outcome")
    runs = sequence.select(
        GID,
        _run_length(outcome == WIN).alias("win_run"),
        _run_length(outcome == LOSS).alias("loss_run"),
    )
    return per_group(
        runs,
        [
            pl.col("win_run").max().alias(f"{S}max_consecutive_wins"),
            pl.col("loss_run").max().alias(f"{S}max_consecutive_losses"),
        ],
        single=single,
    )


def finishing() -> list[pl.Expr]:
    """Ratios computed once every group has its sums (zero-trade groups included)."""
    trades = pl.col(f"{S}trades")
    return [
        count_rate(pl.col(f"{S}wins"), trades).alias(f"{S}win_rate"),
        count_rate(pl.col(f"{S}losses"), trades).alias(f"{S}loss_rate"),
        count_rate(pl.col(f"{S}breakevens"), trades).alias(f"{S}breakeven_rate"),
        ratio_or_infinite(pl.col(f"{S}gross_profit"), pl.col(f"{S}gross_loss")).alias(
            f"{S}profit_factor"
        ),
        ratio(pl.col(f"{S}net_pnl"), trades).alias(f"{S}expectancy"),
        ratio(pl.col(f"{S}average_win"), pl.col(f"{S}average_loss").abs()).alias(
            f"{S}payoff_ratio"
        ),
    ]
