"""Daily returns and the return-based ratios, on quantstats' conventions.

Daily close of an account: its last ``equity`` snapshot of the day (the day on
the configured time zone's calendar, UTC by default). An account without
snapshots but with an ``initial_balance`` gets closes of ``initial_balance +
cumulative closed-trade P&L`` on each day with an exit; an account with
neither has no closes. Several accounts together: on every day any of them has
a close, each account counts with its latest close so far (before its first:
its initial balance, else its first close), and the closes are summed.

The return of a day is its close over the previous close, minus one. The first
day's previous close is the initial balance (summed over the accounts) when
every account has one; otherwise the first day has no return.

Statistics then follow quantstats 0.0.86 on that series (``returns`` below),
with ``periods_per_year`` P and the per-period risk-free rate ``rf``:
sample standard deviations (ddof 1), Sharpe and Sortino on ``returns - rf``,
VaR/CVaR from the normal distribution, quantiles interpolated linearly.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl

from risk_engine.metrics._expr import ratio, ratio_or_infinite
from risk_engine.metrics.config import KpiConfig
from risk_engine.metrics.prepare import (
    GID,
    Grouping,
    first_of_group,
    per_group,
    trading_day_of,
    wall_clock_us,
)

S = "returns."

ZERO_WHEN_NO_RETURNS = [f"{S}days"]

SNAPSHOTS = "equity_snapshots"
CLOSED_TRADES = "closed_trades"
MIXED = "mixed"


def account_starts(
    trades: pl.DataFrame, balances: pl.DataFrame, accounts: pl.DataFrame
) -> pl.DataFrame:
    """Per account: its ``initial_balance`` (or null) and ``starting_balance`` for the curve.

    The starting balance is the initial balance; failing that, the earliest
    snapshot's balance less the P&L of trades closed at or before it; failing
    that, null.
    """
    first = pl.col("ts").arg_min()
    first_snapshots = (
        balances.lazy()
        .group_by("account_id")
        .agg(
            pl.col("ts").min().alias("first_ts"),
            pl.coalesce("balance", "equity").get(first).alias("first_balance"),
        )
        .collect(engine="in-memory")
    )
    latest_first_ts = first_snapshots.get_column("first_ts").max()
    pnl_before = (
        trades.lazy()
        .select("account_id", "exit_time", "pnl")
        # Cheap cut first: only trades closed before some account's first snapshot matter.
        .filter(pl.col("exit_time") <= pl.lit(latest_first_ts, dtype=trades.schema["exit_time"]))
        .join(first_snapshots.lazy(), on="account_id", how="inner")
        .filter(pl.col("exit_time") <= pl.col("first_ts"))
        .group_by("account_id")
        .agg(pl.col("pnl").sum().alias("pnl_before"))
    )
    derived = (
        first_snapshots.lazy()
        .join(pnl_before, on="account_id", how="left")
        .select(
            "account_id",
            (pl.col("first_balance") - pl.col("pnl_before").fill_null(0.0)).alias("derived_start"),
        )
    )
    initial = accounts.lazy().select("account_id", "initial_balance")
    return (
        initial.join(derived, on="account_id", how="full", coalesce=True)
        .select(
            "account_id",
            "initial_balance",
            pl.coalesce("initial_balance", "derived_start").alias("starting_balance"),
        )
        .collect(engine="in-memory")
    )


def account_closes(
    prepared: pl.LazyFrame, balances: pl.DataFrame, accounts: pl.DataFrame, config: KpiConfig
) -> pl.DataFrame:
    """Per account and day: the daily ``close`` and the ``source`` it came from.

    ``prepared`` holds the trades with their local ``exit_day``.
    """
    from_snapshots = (
        balances.lazy()
        .group_by("account_id", trading_day_of(wall_clock_us("ts", config), config).alias("day"))
        .agg(pl.col("equity").get(pl.col("ts").arg_max()).alias("close"))
        .with_columns(pl.lit(SNAPSHOTS).alias("source"))
    )
    with_snapshots = set(balances.get_column("account_id").unique().to_list())
    initial = accounts.filter(
        ~pl.col("account_id").is_in(pl.Series(sorted(with_snapshots), dtype=pl.String).implode())
    ).select("account_id", "initial_balance")
    from_trades = (
        prepared.filter(pl.col("account_id").is_in(initial.get_column("account_id").implode()))
        .group_by("account_id", pl.col("exit_day").alias("day"))
        .agg(pl.col("pnl").sum())
        .join(initial.lazy(), on="account_id")
        .sort("account_id", "day")
        .select(
            "account_id",
            "day",
            (pl.col("initial_balance") + pl.col("pnl").cum_sum().over("account_id")).alias("close"),
            pl.lit(CLOSED_TRADES).alias("source"),
        )
    )
    return pl.concat([from_snapshots, from_trades], how="vertical").collect(engine="in-memory")


def group_closes(
    closes: pl.DataFrame, starts: pl.DataFrame, grouping: Grouping
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Daily closes per group, and per group the ``source`` and the ``base`` before day one."""
    tagged = closes.lazy().with_columns(grouping.gid())
    members = (
        tagged.select(GID, "account_id")
        .unique()
        .join(starts.lazy().select("account_id", "initial_balance"), on="account_id", how="left")
    )
    info = (
        members.group_by(GID)
        .agg(
            pl.when(pl.col("initial_balance").null_count() == 0)
            .then(pl.col("initial_balance").sum())
            .otherwise(None)
            .alias("base")
        )
        .join(
            tagged.group_by(GID).agg(
                pl.when(pl.col("source").n_unique() == 1)
                .then(pl.col("source").first())
                .otherwise(pl.lit(MIXED))
                .alias("source")
            ),
            on=GID,
        )
    )
    if not grouping.combined:
        # One account per group: its closes are the group's.
        return tagged.select(GID, "day", "close"), info
    grid = (
        tagged.select(GID, "day")
        .unique()
        .join(members, on=GID)
        .join(
            tagged.select(GID, "account_id", "day", "close"),
            on=[GID, "account_id", "day"],
            how="left",
        )
        .sort(GID, "account_id", "day")
        .with_columns(pl.col("close").forward_fill().over(GID, "account_id"))
        .with_columns(
            pl.coalesce(
                "close",
                "initial_balance",
                pl.col("close").backward_fill().over(GID, "account_id"),
            )
        )
    )
    daily = grid.group_by(GID, "day").agg(pl.col("close").sum())
    return daily, info


def daily_returns(daily: pl.LazyFrame, info: pl.LazyFrame) -> pl.LazyFrame:
    """Per group and day: ``close`` and ``return`` (close over the previous close, minus one).

    A return that is not finite (a previous close of zero) is dropped, as quantstats does.
    """
    return (
        daily.join(info.select(GID, "base"), on=GID, how="left")
        .sort(GID, "day")
        .with_columns(pl.col(GID).set_sorted())
        .with_columns(
            pl.when(first_of_group())
            .then(pl.col("base"))
            .otherwise(pl.col("close").shift(1))
            .alias("previous")
        )
        .with_columns((pl.col("close") / pl.col("previous") - 1.0).alias("return"))
        .filter(pl.col("return").is_finite())
        .select(GID, "day", "close", "return")
    )


def _central_moment_sum(values: pl.Expr, power: int) -> pl.Expr:
    return ((values - values.mean()) ** power).sum()


def return_statistics(returns: pl.LazyFrame, config: KpiConfig, *, single: bool) -> pl.LazyFrame:
    """Per-group return KPIs on quantstats' definitions (see the module docstring).

    ``returns`` comes from :func:`daily_returns`: sorted by group and day.
    """
    periods = float(config.periods_per_year)
    root_periods = math.sqrt(periods)
    alpha = 1.0 - config.var_confidence
    z_alpha = NormalDist().inv_cdf(alpha)
    shortfall_factor = NormalDist().pdf(z_alpha) / alpha
    r = pl.col("return")
    excess = r - config.risk_free_per_period
    n = r.count().cast(pl.Float64)
    mean = r.mean()
    std = r.std(ddof=1)
    m2 = _central_moment_sum(r, 2)
    wealth = (1.0 + r).cum_prod()
    peak = pl.max_horizontal(wealth.cum_max(), pl.lit(1.0))
    drawdown = 1.0 - wealth / peak
    downside = ((excess.filter(excess < 0) ** 2).sum() / n).sqrt()
    nonzero = (r != 0).sum()
    win_rate = pl.when(nonzero > 0).then((r > 0).sum() / nonzero).otherwise(0.0)
    var_historical = r.quantile(alpha, interpolation="linear")
    upper = r.quantile(config.tail_cutoff, interpolation="linear")
    lower = r.quantile(1.0 - config.tail_cutoff, interpolation="linear")
    skew = (n * (n - 1.0).sqrt() / (n - 2.0)) * _central_moment_sum(r, 3) / m2**1.5
    kurtosis = (n * (n + 1.0) * (n - 1.0) * _central_moment_sum(r, 4)) / (
        (n - 2.0) * (n - 3.0) * m2**2
    ) - 3.0 * (n - 1.0) ** 2 / ((n - 2.0) * (n - 3.0))
    total_return = (1.0 + r).product() - 1.0
    aggregations = [
        r.count().cast(pl.Int64).alias(f"{S}days"),
        pl.col("day").first().alias(f"{S}first_day"),
        pl.col("day").last().alias(f"{S}last_day"),
        total_return.alias(f"{S}total_return"),
        pl.when(1.0 + total_return >= 0)
        .then((1.0 + total_return) ** (periods / n) - 1.0)
        .otherwise(None)
        .alias(f"{S}cagr"),
        mean.alias(f"{S}average_daily_return"),
        (std * root_periods).alias(f"{S}volatility"),
        (ratio(excess.mean(), excess.std(ddof=1)) * root_periods).alias(f"{S}sharpe"),
        (ratio(excess.mean(), downside) * root_periods).alias(f"{S}sortino"),
        drawdown.max().alias(f"{S}max_drawdown_pct"),
        pl.when(n > 1)
        .then(((drawdown**2).sum() / (n - 1.0)).sqrt())
        .otherwise(None)
        .alias(f"{S}ulcer_index"),
        r.sum().alias("_return_sum"),
        (mean + std * z_alpha).alias(f"{S}var"),
        (mean - std * shortfall_factor).alias(f"{S}cvar"),
        var_historical.alias(f"{S}var_historical"),
        r.filter(r <= var_historical).mean().alias(f"{S}cvar_historical"),
        pl.when((n >= 3) & (m2 != 0)).then(skew).otherwise(None).alias(f"{S}skew"),
        pl.when((n >= 4) & (m2 != 0)).then(kurtosis).otherwise(None).alias(f"{S}kurtosis"),
        ratio(upper, lower).abs().alias(f"{S}tail_ratio"),
        (((1.0 - win_rate) / (1.0 + win_rate)) ** n).alias(f"{S}risk_of_ruin"),
        win_rate.alias(f"{S}daily_win_rate"),
        r.max().alias(f"{S}best_day"),
        r.min().alias(f"{S}worst_day"),
    ]
    return (
        per_group(returns.with_columns(pl.col(GID).set_sorted()), aggregations, single=single)
        .with_columns(
            ratio_or_infinite(pl.col(f"{S}cagr"), pl.col(f"{S}max_drawdown_pct")).alias(
                f"{S}calmar"
            ),
            ratio(pl.col("_return_sum"), pl.col(f"{S}max_drawdown_pct")).alias(
                f"{S}recovery_factor"
            ),
        )
        .drop("_return_sum")
    )
