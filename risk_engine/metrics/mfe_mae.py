"""MFE/MAE KPIs: how far trades ran for and against the trader, and how much of it was kept.

``mfe`` is read as given (a favourable excursion, zero or more); ``mae`` as a
magnitude, whatever its sign, since brokers report it both ways. Efficiencies
follow Sweeney on money instead of prices, with the P&L before costs because
excursions are price moves: over the range ``mfe + |mae|`` the entry efficiency
is ``mfe / range``, the exit efficiency ``(pnl_before_costs + |mae|) / range``
and the total efficiency ``pnl_before_costs / range``.
"""

from __future__ import annotations

import polars as pl

S = "mfe_mae."

ZERO_WHEN_NO_TRADES = [f"{S}trades_with_mfe", f"{S}trades_with_mae", f"{S}trades_with_efficiency"]


def trade_aggregations() -> list[pl.Expr]:
    """Per-group excursion averages and efficiencies over the trades that report them."""
    mfe = pl.col("mfe")
    mae = pl.col("mae").abs()
    excursion_range = mfe + mae
    has_range = excursion_range > 0
    pnl = pl.col("pnl_before_costs")
    return [
        mfe.count().cast(pl.Int64).alias(f"{S}trades_with_mfe"),
        mae.count().cast(pl.Int64).alias(f"{S}trades_with_mae"),
        mfe.mean().alias(f"{S}average_mfe"),
        mae.mean().alias(f"{S}average_mae"),
        has_range.sum().cast(pl.Int64).alias(f"{S}trades_with_efficiency"),
        (mfe / excursion_range).filter(has_range).mean().alias(f"{S}average_entry_efficiency"),
        ((pnl + mae) / excursion_range)
        .filter(has_range)
        .mean()
        .alias(f"{S}average_exit_efficiency"),
        (pnl / excursion_range).filter(has_range).mean().alias(f"{S}average_total_efficiency"),
    ]


def finishing() -> list[pl.Expr]:
    """The MFE/MAE ratio, once the averages are known."""
    mfe_mae_ratio = (
        pl.when(pl.col(f"{S}average_mae") != 0)
        .then(pl.col(f"{S}average_mfe") / pl.col(f"{S}average_mae"))
        .otherwise(None)
    )
    return [mfe_mae_ratio.alias(f"{S}mfe_mae_ratio")]
