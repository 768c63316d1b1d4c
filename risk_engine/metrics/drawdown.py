"""The closed-trade equity curve and its drawdowns.

The curve starts at the starting balance before the first trade and moves by
each trade's net P&L at its exit; trades closed at the same instant make one
step. The drawdown at a point is the running peak (the start included) minus
the equity there, never negative. A drawdown episode runs from a peak to the
first point back at that peak (its recovery). Amounts need no starting balance
(they are measured on cumulative P&L); percentages are of the peak equity.
"""

from __future__ import annotations

import polars as pl

from risk_engine.metrics.catalog import EQUITY_CURVE_FIELDS
from risk_engine.metrics.prepare import GID, first_of_group, last_of_group, per_group

S = "risk."

ZERO_WHEN_NO_TRADES = [f"{S}max_drawdown", f"{S}drawdown_episodes", f"{S}current_drawdown"]

_SECONDS_PER_DAY = 86_400.0
# Re-reaching a peak through a different sum of the same numbers can miss it by
# rounding noise; a fall this small relative to the peak is not a drawdown.
_ROUNDING_SLACK = 1e-9


def _days(span: pl.Expr) -> pl.Expr:
    return span.dt.total_microseconds() / 1_000_000 / _SECONDS_PER_DAY


def equity_curve(
    sequence: pl.LazyFrame, starting_balance: pl.Expr, first_entry: pl.Expr
) -> pl.LazyFrame:
    """One point per group and exit instant, sorted: cumulative P&L, equity, drawdown, episode.

    ``starting_balance`` and ``first_entry`` give each row its group's starting
    balance (null when unknown) and earliest entry time.
    """
    cumulative = pl.col("cumulative_pnl")
    peak = pl.max_horizontal(cumulative.cum_max().over(GID), pl.lit(0.0))
    raw_drawdown = pl.col("peak_pnl") - cumulative
    peak_equity = pl.col("starting_balance") + pl.col("peak_pnl")
    drawdown = pl.col("drawdown")
    new_episode = (drawdown == 0) | first_of_group()
    next_row_recovers = (pl.col(GID).shift(-1) == pl.col(GID)) & (drawdown.shift(-1) == 0)
    last_of_instant = (pl.col("exit_time") != pl.col("exit_time").shift(-1)).fill_null(
        value=True
    ) | last_of_group()
    return (
        sequence.with_columns(pl.col("pnl").cum_sum().over(GID).alias("cumulative_pnl"))
        .filter(last_of_instant)
        .select(
            GID,
            pl.col("exit_time").alias("time"),
            pl.col("exit_day").alias("date"),
            cumulative,
            peak.alias("peak_pnl"),
            starting_balance.alias("starting_balance"),
            first_entry.alias("first_entry"),
        )
        .with_columns(
            pl.when(raw_drawdown <= _ROUNDING_SLACK * (pl.col("peak_pnl").abs() + 1.0))
            .then(0.0)
            .otherwise(raw_drawdown)
            .alias("drawdown")
        )
        .with_columns(
            (pl.col("starting_balance") + cumulative).alias("equity"),
            pl.when(peak_equity > 0)
            .then(drawdown / peak_equity)
            .otherwise(None)
            .alias("drawdown_pct"),
            new_episode.cum_sum().alias("episode"),
            # Where the episode began: its peak, or (falling from the first trade) the first entry.
            pl.when(new_episode)
            .then(pl.when(drawdown == 0).then(pl.col("time")).otherwise(pl.col("first_entry")))
            .otherwise(None)
            .forward_fill()
            .alias("episode_start"),
            pl.when(next_row_recovers).then(pl.col("time").shift(-1)).alias("recovered_at"),
        )
    )


def daily_curve(curve: pl.LazyFrame, *, days_in_order: bool) -> pl.LazyFrame:
    """The curve at the end of each day with a closed trade (the published equity curve).

    With ``days_in_order`` (UTC days) a day's points are consecutive and its last
    one is picked in place; on a local clock a day can come back after a
    daylight-saving fall-back at midnight, so points are grouped by day instead.
    """
    if days_in_order:
        last_of_day = (pl.col("date") != pl.col("date").shift(-1)).fill_null(
            value=True
        ) | last_of_group()
        return curve.filter(last_of_day).select(GID, *EQUITY_CURVE_FIELDS)
    return (
        curve.group_by(GID, "date")
        .agg(pl.col(name).last() for name in EQUITY_CURVE_FIELDS[1:])
        .sort(GID, "date")
        .select(GID, *EQUITY_CURVE_FIELDS)
    )


def drawdown_statistics(curve: pl.LazyFrame, *, single: bool) -> pl.LazyFrame:
    """Per-group drawdown KPIs: the deepest episode with its dates, averages, the longest."""
    drawdown = pl.col("drawdown")
    episodes = (
        curve.filter(drawdown > 0)
        .with_columns(pl.col("episode").set_sorted())
        .group_by("episode")
        .agg(
            pl.col(GID).first(),
            drawdown.max().alias("depth"),
            pl.col("drawdown_pct").max().alias("depth_pct"),
            pl.col("time").get(drawdown.arg_max()).alias("trough"),
            pl.col("episode_start").first().alias("start"),
            pl.col("recovered_at").last().alias("end"),
            pl.col("time").last().alias("last_time"),
        )
        .with_columns(
            _days(pl.coalesce("end", "last_time") - pl.col("start")).alias("duration_days"),
            _days(pl.col("end") - pl.col("trough")).alias("recovery_days"),
        )
        .sort(GID, "episode")
    )
    deepest = pl.col("depth").arg_max()
    episode_statistics = episodes.group_by(GID).agg(
        pl.len().cast(pl.Int64).alias(f"{S}drawdown_episodes"),
        pl.col("start").get(deepest).alias(f"{S}max_drawdown_start"),
        pl.col("trough").get(deepest).alias(f"{S}max_drawdown_trough"),
        pl.col("end").get(deepest).alias(f"{S}max_drawdown_end"),
        pl.col("duration_days").get(deepest).alias(f"{S}max_drawdown_duration_days"),
        pl.col("recovery_days").get(deepest).alias(f"{S}max_drawdown_recovery_days"),
        pl.col("duration_days").max().alias(f"{S}longest_drawdown_days"),
        pl.col("depth").mean().alias(f"{S}average_drawdown"),
        pl.col("depth_pct").mean().alias(f"{S}average_drawdown_pct"),
    )
    point_statistics = per_group(
        curve.with_columns(pl.col(GID).set_sorted()),
        [
            drawdown.max().alias(f"{S}max_drawdown"),
            pl.col("drawdown_pct").max().alias(f"{S}max_drawdown_pct"),
            drawdown.last().alias(f"{S}current_drawdown"),
        ],
        single=single,
    )
    return point_statistics.join(episode_statistics, on=GID, how="left")


def finishing() -> list[pl.Expr]:
    """Recovery factor: net P&L over the deepest drawdown (null without a drawdown)."""
    return [
        pl.when(pl.col(f"{S}max_drawdown") > 0)
        .then(pl.col("execution.net_pnl") / pl.col(f"{S}max_drawdown"))
        .otherwise(None)
        .alias(f"{S}recovery_factor")
    ]
