"""Temporal KPIs and breakdowns: durations, the daily P&L calendar, P&L by symbol, hour, session…

Weekday and hour use the entry time on the configured time zone's clock (when
the trade was taken); the calendar day and month use the exit time (when the
P&L was realised). Sessions use the UTC hour of the entry, in fixed windows that
do not move with daylight saving time: asia 00-07, london 07-12,
london_new_york 12-16, new_york 16-21, sydney 21-24.
"""

from __future__ import annotations

import polars as pl

from risk_engine.metrics._expr import count_rate, ratio, ratio_or_infinite
from risk_engine.metrics.catalog import BREAKDOWN_FIELDS, CALENDAR_FIELDS
from risk_engine.metrics.prepare import GID, LOSS, WIN, per_group

S = "temporal."

ZERO_WHEN_NO_TRADES = [f"{S}trading_days", f"{S}winning_days", f"{S}losing_days"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SESSIONS = ("asia", "london", "london_new_york", "new_york", "sydney")
_SESSION_STARTS_UTC = (0, 7, 12, 16, 21)
_CELLS = 8_192


def trade_aggregations() -> list[pl.Expr]:
    """Per-group durations (seconds) and the time span of the trades."""
    duration = pl.col("duration_s")
    return [
        pl.col("entry_time").min().alias(f"{S}first_entry_time"),
        pl.col("exit_time").max().alias(f"{S}last_exit_time"),
        duration.mean().alias(f"{S}average_duration_s"),
        duration.filter(pl.col("outcome") == WIN).mean().alias(f"{S}average_win_duration_s"),
        duration.filter(pl.col("outcome") == LOSS).mean().alias(f"{S}average_loss_duration_s"),
        duration.max().alias(f"{S}max_duration_s"),
    ]


def _bucket_sums() -> list[pl.Expr]:
    """Sums that make a breakdown row, over rows carrying :func:`_bucket_columns`."""
    return [
        pl.col("trades").sum(),
        pl.col("wins").sum(),
        pl.col("losses").sum(),
        pl.col("breakevens").sum(),
        pl.col("net_pnl").sum(),
        pl.col("gross_profit").sum(),
        pl.col("gross_loss").sum(),
    ]


def _bucket_columns() -> list[pl.Expr]:
    """Per-trade columns whose sums make a breakdown row (cheaper to sum than to filter)."""
    pnl = pl.col("pnl")
    outcome = pl.col("outcome")
    return [
        pl.lit(1, dtype=pl.Int64).alias("trades"),
        (outcome == WIN).cast(pl.Int64).alias("wins"),
        (outcome == LOSS).cast(pl.Int64).alias("losses"),
        (outcome == 0).cast(pl.Int64).alias("breakevens"),
        pnl.alias("net_pnl"),
        pnl.clip(lower_bound=0.0).alias("gross_profit"),
        pnl.clip(upper_bound=0.0).alias("gross_loss"),
    ]


def calendar(sequence: pl.LazyFrame, *, days_in_order: bool) -> pl.LazyFrame:
    """One row per group and exit day with a closed trade: the P&L heatmap's cells.

    Group and day travel as one integer key and are read back from it. With
    ``days_in_order`` (UTC days, and ``sequence`` sorted by group and exit time)
    the key comes sorted and the group-by takes contiguous slices; on a local
    clock a day can come back (a daylight-saving fall-back at midnight), so not.
    """
    day_number = pl.col("exit_day").cast(pl.Int32).cast(pl.Int64) + 2**31
    day_key = pl.col(GID).cast(pl.Int64) * 2**32 + day_number
    outcome = pl.col("outcome")
    return (
        sequence.select(
            (day_key.set_sorted() if days_in_order else day_key).alias("_day_key"),
            "pnl",
            outcome,
        )
        .group_by("_day_key")
        .agg(
            pl.col("pnl").sum().alias("net_pnl"),
            pl.len().cast(pl.Int64).alias("trades"),
            (outcome == WIN).sum().cast(pl.Int64).alias("wins"),
            (outcome == LOSS).sum().cast(pl.Int64).alias("losses"),
        )
        .sort("_day_key")
        .select(
            (pl.col("_day_key") // 2**32).cast(pl.UInt32).alias(GID),
            (pl.col("_day_key") % 2**32 - 2**31).cast(pl.Int32).cast(pl.Date).alias("date"),
            *CALENDAR_FIELDS[1:],
        )
    )


def day_statistics(calendar_days: pl.LazyFrame, *, single: bool) -> pl.LazyFrame:
    """Per-group counts of trading, winning and losing days, and the best and worst day."""
    net = pl.col("net_pnl")
    return per_group(
        calendar_days.with_columns(pl.col(GID).set_sorted()),
        [
            pl.len().cast(pl.Int64).alias(f"{S}trading_days"),
            (net > 0).sum().cast(pl.Int64).alias(f"{S}winning_days"),
            (net < 0).sum().cast(pl.Int64).alias(f"{S}losing_days"),
            net.max().alias(f"{S}best_day_pnl"),
            net.min().alias(f"{S}worst_day_pnl"),
        ],
        single=single,
    )


def finishing() -> list[pl.Expr]:
    """Per-day averages, once trade and day counts are joined."""
    days = pl.col(f"{S}trading_days")
    return [
        count_rate(pl.col(f"{S}winning_days"), days).alias(f"{S}day_win_rate"),
        ratio(pl.col("execution.net_pnl"), days).alias(f"{S}average_daily_pnl"),
        ratio(pl.col("execution.trades"), days).alias(f"{S}average_trades_per_day"),
    ]


def _finish_buckets(sums: pl.LazyFrame, order: pl.Expr) -> pl.LazyFrame:
    """Breakdown rows from per-(group, key) sums, in the natural order of the key."""
    return (
        sums.with_columns(
            count_rate(pl.col("wins"), pl.col("trades")).alias("win_rate"),
            ratio_or_infinite(pl.col("gross_profit"), pl.col("gross_loss")).alias("profit_factor"),
            ratio(pl.col("net_pnl"), pl.col("trades")).alias("expectancy"),
            order.alias("_order"),
        )
        .sort(GID, "_order")
        .select(GID, *BREAKDOWN_FIELDS)
    )


def _session_of_utc_hour(hour: pl.Expr) -> pl.Expr:
    """The index in :data:`SESSIONS` of the session a UTC hour falls in."""
    expr: pl.Expr = pl.lit(0, dtype=pl.Int8)
    for index, start in enumerate(_SESSION_STARTS_UTC[1:], start=1):
        expr = pl.when(hour >= start).then(pl.lit(index, dtype=pl.Int8)).otherwise(expr)
    return expr


def breakdowns(prepared: pl.LazyFrame, *, dense: bool) -> dict[str, pl.LazyFrame]:
    """P&L and win rate by symbol, side, weekday, hour, month, session and tag.

    Side, weekday, hour and session are small integers, each packed with the
    group into one integer key (the cheapest key to group by); names replace
    them at the end, on the aggregated rows. When groups hold many trades
    (``dense``), one pass first sums the trades into cells (side, weekday, local
    hour, UTC hour: at most 8,064 per group), and the four breakdowns sum cells.
    """
    sums = _bucket_sums()
    keys = [
        (pl.col("side") == "short").cast(pl.Int64).alias("short"),
        pl.col("entry_weekday").cast(pl.Int64).alias("weekday"),
        pl.col("entry_hour").cast(pl.Int64).alias("hour"),
        pl.col("entry_hour_utc").cast(pl.Int64).alias("hour_utc"),
    ]
    if dense:
        cell = ((pl.col("short") * 7 + pl.col("weekday") - 1) * 24 + pl.col("hour")) * 24 + pl.col(
            "hour_utc"
        )
        rows = (
            prepared.select(GID, *keys, *_bucket_columns())
            .group_by((pl.col(GID).cast(pl.Int64) * _CELLS + cell).alias("_cell"))
            .agg(*sums)
            .with_columns(
                (pl.col("_cell") // _CELLS).alias(GID), (pl.col("_cell") % _CELLS).alias("_in")
            )
            .with_columns(
                (pl.col("_in") // (24 * 24 * 7)).alias("short"),
                (pl.col("_in") % (24 * 24 * 7) // (24 * 24) + 1).alias("weekday"),
                (pl.col("_in") % (24 * 24) // 24).alias("hour"),
                (pl.col("_in") % 24).alias("hour_utc"),
            )
        )
    else:
        rows = prepared.select(GID, *keys, *_bucket_columns())
    rows = rows.with_columns(
        _session_of_utc_hour(pl.col("hour_utc")).cast(pl.Int64).alias("session")
    )

    def from_small_key(column: str) -> pl.LazyFrame:
        packed = pl.col(GID).cast(pl.Int64) * 32 + pl.col(column)  # every value is below 32
        return (
            rows.group_by(packed.alias("_packed"))
            .agg(*sums)
            .select(
                (pl.col("_packed") // 32).cast(pl.UInt32).alias(GID),
                (pl.col("_packed") % 32).alias("key"),
                *(sum_.meta.output_name() for sum_ in sums),
            )
        )

    symbols = (
        prepared.select(GID, "symbol", *_bucket_columns())
        .group_by(GID, pl.col("symbol").alias("key"))
        .agg(*sums)
    )
    tags = (
        prepared.select(GID, "tags", "pnl", "outcome")
        .explode("tags")
        .filter(pl.col("tags").is_not_null())
        .select(GID, "tags", *_bucket_columns())
        .group_by(GID, pl.col("tags").alias("key"))
        .agg(*sums)
    )
    month = pl.col("exit_day").dt.year().cast(pl.Int64) * 100 + pl.col("exit_day").dt.month()
    months = (
        prepared.select(
            (pl.col(GID).cast(pl.Int64) * 1_000_000 + month).alias("_packed"), *_bucket_columns()
        )
        .group_by("_packed")
        .agg(*sums)
        .with_columns(
            (pl.col("_packed") // 1_000_000).cast(pl.UInt32).alias(GID),
            (pl.col("_packed") % 1_000_000).alias("_month"),
        )
        .with_columns(
            pl.format(
                "{}-{}",
                pl.col("_month") // 100,
                (pl.col("_month") % 100).cast(pl.String).str.zfill(2),
            ).alias("key")
        )
    )
    named = pl.col("key")
    return {
        "by_symbol": _finish_buckets(symbols, named),
        "by_side": _finish_buckets(from_small_key("short"), named).with_columns(
            named.replace_strict([0, 1], ["long", "short"], return_dtype=pl.String)
        ),
        "by_weekday": _finish_buckets(from_small_key("weekday"), named).with_columns(
            named.replace_strict(list(range(1, 8)), list(WEEKDAYS), return_dtype=pl.String)
        ),
        "by_hour": _finish_buckets(from_small_key("hour"), named),
        "by_month": _finish_buckets(months, pl.col("_month")),
        "by_session": _finish_buckets(from_small_key("session"), named).with_columns(
            named.replace_strict(list(range(len(SESSIONS))), list(SESSIONS), return_dtype=pl.String)
        ),
        "by_tag": _finish_buckets(tags, named),
    }
