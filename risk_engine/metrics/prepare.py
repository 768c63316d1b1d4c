"""Per-trade columns every KPI module reads, and the realisation-ordered sequence.

Rows carry ``gid``, the index of their group (an account, or every account as
one book) in :class:`Grouping`; integer keys keep a million-row group-by cheap.
The sequence is the narrow frame of trades sorted by group and exit time (ties
keep the order of the input), for streaks and the equity curve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

import polars as pl

from risk_engine.metrics.config import KpiConfig

GID = "gid"
"""The column holding the group index of a row."""

WIN = 1
LOSS = -1
BREAKEVEN = 0


@dataclass(frozen=True, slots=True)
class Grouping:
    """Which KPI result each account's rows go to: its own (per account) or one shared one."""

    names: tuple[str, ...]
    combined: bool

    def gid(self) -> pl.Expr:
        """The group index of a row, from its ``account_id``."""
        if self.combined:
            return pl.lit(0, dtype=pl.UInt32).alias(GID)
        return (
            pl.col("account_id").cast(pl.Enum(list(self.names))).to_physical().cast(pl.UInt32)
        ).alias(GID)

    def aligned(self, frame: pl.DataFrame, column: str) -> pl.Series:
        """``column`` of a frame keyed by ``gid`` as a series indexed by gid (null where absent)."""
        dtype = frame.schema[column]
        values = pl.Series(column, [None] * len(self.names), dtype=dtype)
        if frame.height:
            values = values.scatter(frame.get_column(GID), frame.get_column(column))
        return values

    def per_row(self, frame: pl.DataFrame, column: str) -> pl.Expr:
        """The group's value of ``column`` on each row, looked up by ``gid``."""
        return pl.lit(self.aligned(frame, column)).gather(pl.col(GID))


_MIDNIGHT = time(0, 0)
_NOON = time(12, 0)
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR
# 1970-01-01, day 0 of the epoch, was a Thursday (ISO weekday 4).
_EPOCH_WEEKDAY_SHIFT = 3


def wall_clock_us(column: str, config: KpiConfig) -> pl.Expr:
    """Microseconds since 1970-01-01 00:00 on the time zone's wall clock (integer arithmetic
    on it is much cheaper than calendar field extraction)."""
    if config.timezone == "UTC":
        return pl.col(column).dt.epoch("us")
    return (
        pl.col(column)
        .dt.convert_time_zone(config.timezone)
        .dt.replace_time_zone(None)
        .dt.epoch("us")
    )


def day_of(wall_clock_us: pl.Expr) -> pl.Expr:
    """The calendar day of a wall-clock instant."""
    return (wall_clock_us // _US_PER_DAY).cast(pl.Int32).cast(pl.Date)


def trading_day_of(wall_clock_us: pl.Expr, config: KpiConfig) -> pl.Expr:
    """The trading day of a wall-clock instant: the day turns at ``config.day_start``;
    a day starting at or after noon is labelled with the date it ends
    (``risk_engine.calendar``)."""
    start = config.day_start
    if start == _MIDNIGHT:
        return day_of(wall_clock_us)
    shift = (start.hour * 60 + start.minute) * 60_000_000
    label = 1 if start >= _NOON else 0
    return ((wall_clock_us - shift) // _US_PER_DAY + label).cast(pl.Int32).cast(pl.Date)


def outcome_expr(config: KpiConfig) -> pl.Expr:
    """1 for a win, -1 for a loss, 0 for a breakeven (|pnl| within the tolerance)."""
    tolerance = config.breakeven_tolerance
    return (
        pl.when(pl.col("pnl") > tolerance)
        .then(pl.lit(WIN, dtype=pl.Int8))
        .when(pl.col("pnl") < -tolerance)
        .then(pl.lit(LOSS, dtype=pl.Int8))
        .otherwise(pl.lit(BREAKEVEN, dtype=pl.Int8))
    )


def r_multiple_expr() -> pl.Expr:
    """Price move in units of the initial risk: direction x (exit - entry) / |entry - stop|.

    Null when there is no stop, or the stop is not on the losing side of the entry
    (then there was no initial risk to measure against).
    """
    direction = pl.when(pl.col("side") == "short").then(-1.0).otherwise(1.0)
    risk_per_unit = direction * (pl.col("entry_price") - pl.col("stop_loss"))
    move = direction * (pl.col("exit_price") - pl.col("entry_price"))
    return pl.when(risk_per_unit > 0).then(move / risk_per_unit).otherwise(None)


def prepare_trades(trades: pl.DataFrame, grouping: Grouping, config: KpiConfig) -> pl.DataFrame:
    """The conformed trades with their group index and derived columns (input order).

    Weekday and hour are those of the entry on the configured clock (``entry_weekday``
    1 = Monday); ``entry_hour_utc`` feeds the sessions; ``exit_day`` is the local
    calendar day of the exit.
    """
    entry_us = wall_clock_us("entry_time", config)
    entry_utc_us = pl.col("entry_time").dt.epoch("us")
    prepared = trades.with_columns(
        grouping.gid(),
        outcome_expr(config).alias("outcome"),
        r_multiple_expr().alias("r_multiple"),
        ((pl.col("exit_time") - pl.col("entry_time")).dt.total_microseconds() / 1_000_000).alias(
            "duration_s"
        ),
        (pl.col("pnl") - pl.col("commission") - pl.col("swap")).alias("pnl_before_costs"),
        trading_day_of(wall_clock_us("exit_time", config), config).alias("exit_day"),
        ((entry_us // _US_PER_DAY + _EPOCH_WEEKDAY_SHIFT) % 7 + 1)
        .cast(pl.Int8)
        .alias("entry_weekday"),
        (entry_us // _US_PER_HOUR % 24).cast(pl.Int8).alias("entry_hour"),
        (entry_utc_us // _US_PER_HOUR % 24).cast(pl.Int8).alias("entry_hour_utc"),
    )
    # Group-bys over a sorted key take contiguous slices instead of hashing every row.
    if prepared.select((pl.col(GID).diff() >= 0).all()).item():
        prepared = prepared.with_columns(pl.col(GID).set_sorted())
    return prepared


def sequence(prepared: pl.DataFrame) -> pl.DataFrame:
    """The trades in the order their P&L was realised, per group: by exit, then entry time.

    Ties keep the input order. A journal that arrives in that order (as a query
    ordered by exit time returns it) is not sorted again.
    """
    narrow = prepared.select(GID, "entry_time", "exit_time", "exit_day", "pnl", "outcome")
    gid_step = pl.col(GID).cast(pl.Int64).diff()
    exit_step = pl.col("exit_time").diff()
    entry_step = pl.col("entry_time").diff()
    in_order = narrow.select(
        (
            (gid_step > 0)
            | ((gid_step == 0) & ((exit_step > 0) | ((exit_step == 0) & (entry_step >= 0))))
        ).all()
    ).item()
    if not in_order:
        # Two stable sorts (times, then group) beat one sort on three keys several times over.
        narrow = narrow.sort("exit_time", "entry_time", maintain_order=True)
        if narrow.get_column(GID).n_unique() > 1:
            narrow = narrow.sort(GID, maintain_order=True)
    return narrow.with_columns(pl.col(GID).set_sorted())


def per_group(
    frame: pl.LazyFrame, aggregations: Iterable[pl.Expr], *, single: bool
) -> pl.LazyFrame:
    """``aggregations`` per ``gid``, one row per group that has rows.

    A lone group (one account, or all together) is aggregated by a plain select:
    polars does that several times faster than a group-by over one key.
    """
    if not single:
        return frame.group_by(GID).agg(*aggregations)
    return (
        frame.select(pl.len().alias("_rows"), *aggregations)
        .filter(pl.col("_rows") > 0)
        .select(pl.lit(0, dtype=pl.UInt32).alias(GID), pl.exclude("_rows"))
    )


def first_of_group() -> pl.Expr:
    """True on the first row of each group in a frame sorted by ``gid``."""
    return (pl.col(GID) != pl.col(GID).shift(1)).fill_null(value=True)


def last_of_group() -> pl.Expr:
    """True on the last row of each group in a frame sorted by ``gid``."""
    return (pl.col(GID) != pl.col(GID).shift(-1)).fill_null(value=True)
