"""Benchmark of the metrics engine (issue 5): every KPI for big journals, beside quantstats.

Two journals, generated with a fixed seed and held in memory as polars frames, in
the order a query ``ORDER BY account_id, exit_time`` returns them:

- one account with 1,000,000 closed trades over about four years, with an
  end-of-day equity snapshot per day;
- 1,000 accounts with 1,000 closed trades each over about a year, each with its
  end-of-day snapshots.

For each: the wall time of ``compute_kpis_by_account`` (all KPIs, to JSON-ready
dicts), first call and then the median of the repeats; the return-based part alone
(the same journal without trades); and quantstats 0.0.86 computing the metrics it
shares with us on the very same daily return series (one pandas Series, or one
DataFrame column per account), as a ratio. Run: ``python bench/metrics.py``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from risk_engine.metrics import (
    Journal,
    compute_kpi_tables,
    compute_kpis_by_account,
    daily_returns_frame,
)

REPEATS = 5
START = datetime(2022, 1, 3, tzinfo=UTC)
US_PER_DAY = 86_400_000_000
SYMBOLS = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "NAS100", "US30", "BTCUSD", "ETHUSD"]
TAG_SETS = pl.Series([["breakout"], ["news", "fomo"], [], ["trend"], [], ["a+setup"]])


def generate(accounts: int, trades_per_account: int, days: int, seed: int) -> Journal:
    """A journal of closed trades plus one end-of-day equity snapshot per account and day."""
    rng = np.random.default_rng(seed)
    n = accounts * trades_per_account
    start_us = int(START.timestamp() * 1_000_000)
    account_index = np.repeat(np.arange(accounts), trades_per_account)
    offsets = np.sort(
        rng.uniform(0, days * US_PER_DAY, (accounts, trades_per_account)), axis=1
    ).ravel()
    entry = start_us + offsets.astype(np.int64)
    exit_ = entry + rng.exponential(2 * 3_600_000_000, n).astype(np.int64)
    side_long = rng.random(n) < 0.5
    entry_price = 100.0 + rng.normal(0, 1, n)
    direction = np.where(side_long, 1.0, -1.0)
    stop = np.where(rng.random(n) < 0.7, entry_price - direction * rng.uniform(0.1, 1.0, n), np.nan)
    pnl = np.round(rng.normal(4.0, 100.0, n), 2)
    trades = (
        pl.DataFrame(
            {
                "account_index": account_index,
                "broker_trade_id": np.arange(n),
                "symbol_index": rng.integers(0, len(SYMBOLS), n),
                "side": np.where(side_long, "long", "short"),
                "quantity": np.round(rng.uniform(0.1, 5.0, n), 2),
                "entry_price": entry_price,
                "exit_price": entry_price + rng.normal(0, 0.5, n),
                "entry_time": entry,
                "exit_time": exit_,
                "pnl": pnl,
                "commission": -np.round(rng.uniform(0, 7, n), 2),
                "swap": np.where(rng.random(n) < 0.1, -1.5, 0.0),
                "stop_loss": stop,
                "mfe": np.abs(pnl) + rng.uniform(0, 50, n),
                "mae": -rng.uniform(0, 50, n),
                "tag_set": rng.integers(0, len(TAG_SETS), n),
            }
        )
        .with_columns(
            pl.format("ACC{}", pl.col("account_index").cast(pl.String).str.zfill(5)).alias(
                "account_id"
            ),
            pl.col("broker_trade_id").cast(pl.String),
            pl.lit(pl.Series(SYMBOLS)).gather(pl.col("symbol_index")).alias("symbol"),
            pl.col("entry_time").cast(pl.Datetime("us", "UTC")),
            pl.col("exit_time").cast(pl.Datetime("us", "UTC")),
            pl.col("stop_loss").fill_nan(None),
            pl.lit(TAG_SETS).gather(pl.col("tag_set")).alias("tags"),
        )
        .drop("account_index", "symbol_index", "tag_set")
        .sort("account_id", "exit_time", maintain_order=True)
    )
    initial = 100_000.0
    ids = trades.select(pl.col("account_id").unique(maintain_order=True))
    day_pnl = trades.group_by(
        "account_id", (pl.col("exit_time").dt.epoch("us") // US_PER_DAY).alias("day")
    ).agg(pl.col("pnl").sum())
    calendar = ids.join(
        pl.DataFrame({"day": np.arange(days + 2) + start_us // US_PER_DAY}), how="cross"
    )
    balances = (
        calendar.join(day_pnl, on=["account_id", "day"], how="left")
        .sort("account_id", "day")
        .with_columns(
            (initial + pl.col("pnl").fill_null(0.0).cum_sum().over("account_id")).alias("balance")
        )
        .select(
            "account_id",
            ((pl.col("day") + 1) * US_PER_DAY - 1).cast(pl.Datetime("us", "UTC")).alias("ts"),
            "balance",
            (pl.col("balance") + np.round(rng.normal(0, 30, calendar.height), 2)).alias("equity"),
        )
    )
    accounts_frame = ids.with_columns(
        pl.lit(initial).alias("initial_balance"), pl.lit("USD").alias("currency")
    )
    return Journal(trades=trades, balances=balances, accounts=accounts_frame)


@dataclass(frozen=True)
class Timing:
    """Wall seconds of the first call and of the repeats, and CPU seconds (all threads)."""

    first: float
    median: float
    best: float
    cpu_median: float

    def row(self, label: str) -> str:
        return (
            f"| {label} | {self.median:.3f} | {self.best:.3f} | {self.cpu_median:.3f} "
            f"| {self.first:.3f} |"
        )


def timed(action: Callable[[], Any], repeats: int = REPEATS) -> Timing:
    """Run ``action`` once (the first, cold call), then ``repeats`` times."""
    started = time.perf_counter()
    action()
    first = time.perf_counter() - started
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
    return Timing(first, statistics.median(walls), min(walls), statistics.median(cpus))


def quantstats_overlap(returns: Any) -> Callable[[], None]:
    """quantstats computing the return metrics we share, on a Series or a DataFrame."""
    import quantstats as qs  # noqa: PLC0415 - a test/bench-only dependency, loaded when used

    stats: Any = qs.stats
    metrics: list[Callable[[Any], Any]] = [
        stats.sharpe,
        stats.sortino,
        stats.volatility,
        stats.cagr,
        stats.calmar,
        stats.max_drawdown,
        stats.ulcer_index,
        stats.value_at_risk,
        stats.cvar,
        lambda r: stats.cvar(r, method="historical"),
        stats.skew,
        stats.kurtosis,
        stats.tail_ratio,
        stats.risk_of_ruin,
        stats.win_rate,
        stats.comp,
        stats.best,
        stats.worst,
        stats.recovery_factor,
    ]

    def run() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for metric in metrics:
                metric(returns)

    return run


def pandas_returns(journal: Journal) -> Any:
    """The engine's own daily returns, as quantstats wants them (one column per account)."""
    import pandas as pd  # noqa: PLC0415 - a test/bench-only dependency, loaded when used

    frame = daily_returns_frame(journal)
    wide = frame.pivot(on="group", index="day", values="return").sort("day")
    index = pd.to_datetime(wide.get_column("day").to_list())
    columns = [name for name in wide.columns if name != "day"]
    if len(columns) == 1:
        return pd.Series(wide.get_column(columns[0]).to_numpy(), index=index)
    return pd.DataFrame({name: wide.get_column(name).to_numpy() for name in columns}, index=index)


def machine() -> str:
    cpu = "unknown CPU"
    ram = "unknown RAM"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        ram = f"{kib / 1024 / 1024:.0f} GiB RAM"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({cpu}); {ram}; "
        f"Python {platform.python_version()}, polars {pl.__version__}; "
        f"load average {load:.2f} at the start"
    )


def run_case(name: str, journal: Journal) -> None:
    trades = journal.trades.height
    print(f"\n### {name}: {trades:,} trades, {journal.balances.height:,} snapshots\n")
    as_dicts = timed(lambda: compute_kpis_by_account(journal))
    as_frames = timed(lambda: compute_kpi_tables(journal))
    shuffled = Journal(
        trades=journal.trades.sample(fraction=1.0, shuffle=True, seed=1),
        balances=journal.balances,
        accounts=journal.accounts,
    )
    unsorted = timed(lambda: compute_kpis_by_account(shuffled), repeats=3)
    returns_only = Journal(balances=journal.balances, accounts=journal.accounts)
    ours_returns = timed(lambda: compute_kpi_tables(returns_only))
    theirs = timed(quantstats_overlap(pandas_returns(journal)), repeats=3)
    print("| measured | wall, median | wall, best | CPU, median | wall, first call |")
    print("|---|---|---|---|---|")
    print(as_dicts.row("all KPIs, JSON-ready dicts (`compute_kpis_by_account`)"))
    print(as_frames.row("all KPIs, polars frames (`compute_kpi_tables`)"))
    print(unsorted.row("all KPIs, dicts, trades in random order"))
    print(ours_returns.row("our return KPIs only (snapshots, no trades), frames"))
    print(theirs.row("quantstats: its 19 overlapping metrics, same daily returns"))
    print()
    print(f"- all KPIs (dicts) / quantstats overlap: {as_dicts.median / theirs.median:.2f}")
    print(f"- our return KPIs / quantstats overlap: {ours_returns.median / theirs.median:.3f}")
    print(f"- trades per second, all KPIs (dicts): {trades / as_dicts.median:,.0f}")


def main() -> None:
    print("## Metrics engine (issue 5)")
    print(f"\nMachine: {machine()}")
    run_case("one account x 1,000,000 trades", generate(1, 1_000_000, days=1_460, seed=5))
    run_case("1,000 accounts x 1,000 trades", generate(1_000, 1_000, days=365, seed=6))


if __name__ == "__main__":
    main()
