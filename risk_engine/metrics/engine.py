"""Computing every KPI of a journal, per account or for several accounts as one book.

All groups (accounts) are computed together: one polars query per KPI family,
grouped by account, run in parallel by ``collect_all`` over a shared plan, so a
thousand accounts cost one pass over their trades, not a thousand.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from risk_engine.metrics import (
    drawdown,
    execution,
    mfe_mae,
    output,
    returns,
    robustness,
    temporal,
)
from risk_engine.metrics.catalog import (
    BREAKDOWN_FIELDS,
    BREAKDOWNS,
    CALENDAR_FIELDS,
    EQUITY_CURVE_FIELDS,
    KPIS,
    column_name,
)
from risk_engine.metrics.config import KpiConfig
from risk_engine.metrics.frames import Journal
from risk_engine.metrics.output import KpiResult
from risk_engine.metrics.prepare import GID, Grouping, per_group, prepare_trades
from risk_engine.metrics.prepare import sequence as prepare_sequence

# Trades per group from which summing the breakdowns through cells pays (see temporal).
_DENSE_TRADES = 3_000

COMBINED = "*"
"""The group label of several accounts computed together."""


_ZERO_WHEN_EMPTY = (
    execution.ZERO_WHEN_NO_TRADES
    + robustness.ZERO_WHEN_NO_TRADES
    + mfe_mae.ZERO_WHEN_NO_TRADES
    + temporal.ZERO_WHEN_NO_TRADES
    + drawdown.ZERO_WHEN_NO_TRADES
    + returns.ZERO_WHEN_NO_RETURNS
)


def compute_kpis(journal: Journal, config: KpiConfig | None = None) -> KpiResult:
    """Every KPI of all the journal's accounts taken together as one book."""
    return compute_kpi_tables(journal, config, combined=True).results()[COMBINED]


def compute_kpis_by_account(
    journal: Journal, config: KpiConfig | None = None
) -> dict[str, KpiResult]:
    """Every KPI of each account of the journal, keyed by account id."""
    if not journal.account_ids:
        return {}
    return compute_kpi_tables(journal, config).results()


def daily_returns_frame(
    journal: Journal, config: KpiConfig | None = None, *, combined: bool = False
) -> pl.DataFrame:
    """The daily closes and returns behind the return KPIs.

    Columns: ``group`` (account id, or ``*``), ``day``, ``close``, ``return``.
    """
    config = config or KpiConfig()
    grouping = Grouping(names=(COMBINED,) if combined else journal.account_ids, combined=combined)
    if not grouping.names:
        return pl.DataFrame(
            schema={"group": pl.String, "day": pl.Date, "close": pl.Float64, "return": pl.Float64}
        )
    starts = _account_starts(journal)
    prepared = prepare_trades(journal.trades, grouping, config).lazy()
    closes = returns.account_closes(prepared, journal.balances, journal.accounts, config)
    daily, info = returns.group_closes(closes, starts, grouping)
    frame = returns.daily_returns(daily, info).collect(engine="in-memory")
    names = pl.Series(list(grouping.names), dtype=pl.String)
    return frame.select(pl.lit(names).gather(pl.col(GID)).alias("group"), "day", "close", "return")


def _account_starts(journal: Journal) -> pl.DataFrame:
    """Every account with its initial balance and starting balance (null when unknown)."""
    ids = pl.DataFrame({"account_id": list(journal.account_ids)}, schema={"account_id": pl.String})
    starts = returns.account_starts(journal.trades, journal.balances, journal.accounts)
    return ids.join(starts, on="account_id", how="left")


def _group_facts(journal: Journal, grouping: Grouping, starts: pl.DataFrame) -> pl.DataFrame:
    """Per group: its accounts, their common currency (if one) and the starting balance."""
    currencies = journal.accounts.lazy().select("account_id", "currency")
    return (
        starts.lazy()
        .join(currencies, on="account_id", how="left")
        .with_columns(grouping.gid())
        .group_by(GID)
        .agg(
            pl.col("account_id").sort().alias("account_ids"),
            pl.when(pl.col("currency").n_unique() == 1)
            .then(pl.col("currency").first())
            .otherwise(None)
            .alias("currency"),
            pl.when(pl.col("starting_balance").null_count() == 0)
            .then(pl.col("starting_balance").sum())
            .otherwise(None)
            .alias("starting_balance"),
        )
        .collect(engine="in-memory")
    )


@dataclass(frozen=True)
class KpiTables:
    """Every KPI as polars frames, one row (or list of rows) per group.

    ``scalars`` has ``group`` (an account id, or ``*`` for accounts together),
    ``account_ids``, ``currency``, ``starting_balance`` and one ``section.key``
    column per catalogued KPI; ``calendar``, ``equity_curve`` and each breakdown
    hold ``group`` and their fields. Frames may hold infinities (profit factors,
    Calmar) and never NaN; :meth:`results` turns them into JSON-ready dicts.
    """

    config: KpiConfig
    groups: tuple[str, ...]
    scalars: pl.DataFrame
    calendar: pl.DataFrame
    equity_curve: pl.DataFrame
    breakdowns: dict[str, pl.DataFrame]

    def results(self) -> dict[str, KpiResult]:
        """One JSON-ready result per group (see docs/kpis.md), keyed by group."""
        return output.results(
            self.config, self.scalars, self.calendar, self.equity_curve, self.breakdowns
        )


def compute_kpi_tables(
    journal: Journal, config: KpiConfig | None = None, *, combined: bool = False
) -> KpiTables:
    """Every KPI of each account (or of all accounts as one book) as polars frames."""
    names = (COMBINED,) if combined else journal.account_ids
    return _compute(journal, config or KpiConfig(), Grouping(names=names, combined=combined))


def _finite_or_null(frame: pl.DataFrame, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """Float columns with NaN and infinities made null, except ``keep`` (NaN only there)."""
    return frame.with_columns(
        (
            pl.col(name).fill_nan(None)
            if name in keep
            else pl.when(pl.col(name).is_finite()).then(pl.col(name))
        ).alias(name)
        for name, dtype in frame.schema.items()
        if dtype.is_float()
    )


def _compute(journal: Journal, config: KpiConfig, grouping: Grouping) -> KpiTables:
    names = pl.Series(list(grouping.names), dtype=pl.String)
    prepared_frame = prepare_trades(journal.trades, grouping, config)
    prepared = prepared_frame.lazy()
    sequence = prepare_sequence(prepared_frame).lazy()
    starts = _account_starts(journal)
    facts = _group_facts(journal, grouping, starts)
    first_entries = prepared_frame.group_by(GID).agg(
        pl.col("entry_time").min().alias("first_entry")
    )

    single = len(grouping.names) == 1
    trade_stats = per_group(
        prepared,
        [
            *execution.trade_aggregations(),
            *robustness.trade_aggregations(config),
            *mfe_mae.trade_aggregations(),
            *temporal.trade_aggregations(),
        ],
        single=single,
    )
    days_in_order = config.timezone == "UTC"
    calendar = temporal.calendar(sequence, days_in_order=days_in_order)
    curve = drawdown.equity_curve(
        sequence,
        grouping.per_row(facts, "starting_balance"),
        grouping.per_row(first_entries, "first_entry"),
    )
    closes = returns.account_closes(prepared, journal.balances, journal.accounts, config)
    daily, info = returns.group_closes(closes, starts, grouping)
    scalar_frames = [
        trade_stats,
        execution.streaks(sequence, single=single),
        temporal.day_statistics(calendar, single=single),
        drawdown.drawdown_statistics(curve, single=single),
        returns.return_statistics(returns.daily_returns(daily, info), config, single=single),
        info.select(GID, pl.col("source").alias(f"{returns.S}source")),
    ]
    breakdown_frames = temporal.breakdowns(
        prepared, dense=prepared_frame.height >= _DENSE_TRADES * len(grouping.names)
    )
    group_name = pl.lit(names).gather(pl.col(GID)).alias("group")
    list_frames = [
        calendar.select(group_name, pl.col("date").dt.to_string("%Y-%m-%d"), *CALENDAR_FIELDS[1:]),
        drawdown.daily_curve(curve, days_in_order=days_in_order).select(
            group_name, pl.col("date").dt.to_string("%Y-%m-%d"), *EQUITY_CURVE_FIELDS[1:]
        ),
        *(breakdown_frames[name].select(group_name, *BREAKDOWN_FIELDS) for name in BREAKDOWNS),
    ]
    collected = pl.collect_all([*scalar_frames, *list_frames], engine="in-memory")
    scalars = pl.DataFrame({GID: pl.Series(range(len(grouping.names)), dtype=pl.UInt32)}).join(
        facts, on=GID, how="left"
    )
    for frame in collected[: len(scalar_frames)]:
        scalars = scalars.join(frame, on=GID, how="left")
    scalars = (
        scalars.with_columns(pl.col(_ZERO_WHEN_EMPTY).fill_null(0))
        .with_columns(execution.finishing())
        .with_columns(
            *robustness.finishing(),
            *mfe_mae.finishing(),
            *temporal.finishing(),
            *drawdown.finishing(),
        )
        .select(
            group_name,
            "account_ids",
            "currency",
            "starting_balance",
            *(column_name(kpi.section, kpi.key) for kpi in KPIS),
        )
    )
    lists = collected[len(scalar_frames) :]
    return KpiTables(
        config=config,
        groups=grouping.names,
        scalars=scalars.with_columns(pl.col(pl.Float64).fill_nan(None)),
        calendar=_finite_or_null(lists[0]),
        equity_curve=_finite_or_null(lists[1]),
        breakdowns={
            name: _finite_or_null(frame, keep=("profit_factor",))
            for name, frame in zip(BREAKDOWNS, lists[2:], strict=True)
        },
    )
