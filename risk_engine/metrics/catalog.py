"""Every scalar KPI the engine publishes: its section, key, unit and meaning.

The catalog fixes the JSON keys: a result holds exactly these keys, in these
sections, whatever the journal (a KPI that cannot be computed is ``null``, not
absent). ``docs/kpis.md`` gives each key's formula; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kpi:
    """One published number: where it lives, what unit it is in, what it tells the trader."""

    section: str
    key: str
    unit: str
    meaning: str


_EXECUTION = [
    ("trades", "count", "closed trades"),
    ("wins", "count", "trades with pnl above the breakeven tolerance"),
    ("losses", "count", "trades with pnl below minus the breakeven tolerance"),
    ("breakevens", "count", "trades within the breakeven tolerance of zero"),
    ("win_rate", "fraction", "wins / trades"),
    ("loss_rate", "fraction", "losses / trades"),
    ("breakeven_rate", "fraction", "breakevens / trades"),
    ("gross_profit", "money", "sum of positive trade pnl"),
    ("gross_loss", "money", "sum of negative trade pnl (zero or negative)"),
    ("net_pnl", "money", "sum of trade pnl, net of commission and swap"),
    ("pnl_before_costs", "money", "net_pnl minus commissions and swaps"),
    ("total_commission", "money", "sum of commission as reported (a cost is negative)"),
    ("total_swap", "money", "sum of swap as reported (a cost is negative)"),
    ("total_quantity", "lots/units", "sum of trade quantity"),
    ("profit_factor", "ratio", "gross_profit / |gross_loss|"),
    ("expectancy", "money/trade", "net_pnl / trades"),
    ("expectancy_r", "R/trade", "mean R-multiple of the trades that have one"),
    ("average_win", "money", "mean pnl of winning trades"),
    ("average_loss", "money", "mean pnl of losing trades (negative)"),
    ("payoff_ratio", "ratio", "average_win / |average_loss|"),
    ("largest_win", "money", "highest pnl of a winning trade"),
    ("largest_loss", "money", "lowest pnl of a losing trade (negative)"),
    ("median_pnl", "money", "median trade pnl"),
    ("pnl_std", "money", "sample standard deviation of trade pnl"),
    ("max_consecutive_wins", "count", "longest run of wins in exit order"),
    ("max_consecutive_losses", "count", "longest run of losses in exit order"),
]

_RISK = [
    (
        "max_drawdown",
        "money",
        "deepest fall of the closed-trade equity curve below its peak",
    ),
    ("max_drawdown_pct", "fraction", "deepest fall as a fraction of the running peak equity"),
    ("max_drawdown_start", "timestamp", "when the deepest drawdown's peak was set"),
    ("max_drawdown_trough", "timestamp", "when the deepest drawdown bottomed"),
    ("max_drawdown_end", "timestamp", "when equity got back to that peak (null: not yet)"),
    (
        "max_drawdown_duration_days",
        "days",
        "deepest drawdown: peak to recovery (or to the last trade)",
    ),
    (
        "max_drawdown_recovery_days",
        "days",
        "deepest drawdown: trough to recovery (null: not yet)",
    ),
    ("longest_drawdown_days", "days", "the longest peak-to-recovery time of any drawdown"),
    ("average_drawdown", "money", "mean depth of the drawdown episodes"),
    (
        "average_drawdown_pct",
        "fraction",
        "mean depth of the episodes as a fraction of peak equity",
    ),
    ("drawdown_episodes", "count", "falls below a peak that later recovered or are still open"),
    ("current_drawdown", "money", "distance of the last point below the running peak"),
    ("recovery_factor", "ratio", "net_pnl / max_drawdown"),
]

_RETURNS = [
    ("source", "text", "where the daily closes came from: equity_snapshots, closed_trades, mixed"),
    ("days", "count", "daily returns used"),
    ("first_day", "date", "day of the first daily return"),
    ("last_day", "date", "day of the last daily return"),
    ("total_return", "fraction", "compounded return over all days"),
    ("cagr", "fraction/year", "compound annual growth rate, years = days / periods_per_year"),
    ("average_daily_return", "fraction/day", "mean daily return"),
    ("volatility", "fraction/year", "std of daily returns (ddof 1) x sqrt(periods_per_year)"),
    ("sharpe", "ratio", "mean daily excess return / its std (ddof 1) x sqrt(periods_per_year)"),
    ("sortino", "ratio", "mean daily excess return / downside deviation x sqrt(periods_per_year)"),
    ("calmar", "ratio", "cagr / max_drawdown_pct of the daily series"),
    ("max_drawdown_pct", "fraction", "deepest fall of the compounded daily series from its peak"),
    ("ulcer_index", "fraction", "root mean square of daily drawdowns (n - 1 denominator)"),
    ("recovery_factor", "ratio", "sum of daily returns / max_drawdown_pct"),
    ("var", "fraction/day", "parametric (normal) daily value at risk at var_confidence"),
    ("cvar", "fraction/day", "parametric (normal) daily expected shortfall at var_confidence"),
    ("var_historical", "fraction/day", "empirical daily return quantile at 1 - var_confidence"),
    ("cvar_historical", "fraction/day", "mean daily return at or below var_historical"),
    ("skew", "ratio", "sample skewness of daily returns (adjusted Fisher-Pearson G1)"),
    ("kurtosis", "ratio", "sample excess kurtosis of daily returns (G2)"),
    ("tail_ratio", "ratio", "|quantile(tail_cutoff) / quantile(1 - tail_cutoff)| of daily returns"),
    ("risk_of_ruin", "probability", "((1 - w) / (1 + w)) ^ days with w the daily win rate"),
    ("daily_win_rate", "fraction", "positive days / non-zero days"),
    ("best_day", "fraction", "highest daily return"),
    ("worst_day", "fraction", "lowest daily return"),
]

_ROBUSTNESS = [
    ("trades_with_r", "count", "trades with a usable stop_loss, so an R-multiple"),
    ("total_r", "R", "sum of R-multiples"),
    ("median_r", "R", "median R-multiple"),
    ("std_r", "R", "sample standard deviation of R-multiples"),
    ("best_r", "R", "highest R-multiple"),
    ("worst_r", "R", "lowest R-multiple"),
    ("sqn", "ratio", "sqrt(trades_with_r) x mean R / std R (Van Tharp's System Quality Number)"),
    ("sqn_pnl", "ratio", "sqrt(trades) x mean pnl / std pnl: SQN on money when there is no R"),
    ("kelly_fraction", "fraction", "p - (1 - p) / payoff_ratio with p = wins / (wins + losses)"),
    ("outlier_adjusted_profit_factor", "ratio", "profit factor without the largest winning trades"),
    (
        "outlier_trades_removed",
        "count",
        "largest winning trades left out of that profit factor",
    ),
]

_TEMPORAL = [
    ("first_entry_time", "timestamp", "entry of the earliest trade"),
    ("last_exit_time", "timestamp", "exit of the latest trade"),
    ("average_duration_s", "seconds", "mean of exit_time - entry_time"),
    ("average_win_duration_s", "seconds", "mean duration of winning trades"),
    ("average_loss_duration_s", "seconds", "mean duration of losing trades"),
    ("max_duration_s", "seconds", "longest trade"),
    ("trading_days", "count", "calendar days with at least one closed trade"),
    ("winning_days", "count", "trading days with net pnl above zero"),
    ("losing_days", "count", "trading days with net pnl below zero"),
    ("day_win_rate", "fraction", "winning_days / trading_days"),
    ("average_daily_pnl", "money/day", "net_pnl / trading_days"),
    ("best_day_pnl", "money", "highest net pnl of a trading day"),
    ("worst_day_pnl", "money", "lowest net pnl of a trading day"),
    ("average_trades_per_day", "count/day", "trades / trading_days"),
]

_MFE_MAE = [
    ("trades_with_mfe", "count", "trades that report an mfe"),
    ("trades_with_mae", "count", "trades that report an mae"),
    ("average_mfe", "money", "mean maximum favourable excursion"),
    ("average_mae", "money", "mean maximum adverse excursion, as a magnitude"),
    ("mfe_mae_ratio", "ratio", "average_mfe / average_mae"),
    ("trades_with_efficiency", "count", "trades with both mfe and mae and a non-zero range"),
    ("average_entry_efficiency", "fraction", "mean of mfe / (mfe + |mae|)"),
    ("average_exit_efficiency", "fraction", "mean of (pnl_before_costs + |mae|) / (mfe + |mae|)"),
    ("average_total_efficiency", "fraction", "mean of pnl_before_costs / (mfe + |mae|)"),
]

SECTIONS: dict[str, list[tuple[str, str, str]]] = {
    "execution": _EXECUTION,
    "risk": _RISK,
    "returns": _RETURNS,
    "robustness": _ROBUSTNESS,
    "temporal": _TEMPORAL,
    "mfe_mae": _MFE_MAE,
}

KPIS: tuple[Kpi, ...] = tuple(
    Kpi(section, key, unit, meaning)
    for section, rows in SECTIONS.items()
    for key, unit, meaning in rows
)
"""Every scalar KPI, section by section, in publishing order."""

BREAKDOWNS: tuple[str, ...] = (
    "by_symbol",
    "by_side",
    "by_weekday",
    "by_hour",
    "by_month",
    "by_session",
    "by_tag",
)
"""The breakdown tables, each a list of rows with :data:`BREAKDOWN_FIELDS`."""

BREAKDOWN_FIELDS: tuple[str, ...] = (
    "key",
    "trades",
    "wins",
    "losses",
    "breakevens",
    "win_rate",
    "net_pnl",
    "gross_profit",
    "gross_loss",
    "profit_factor",
    "expectancy",
)

CALENDAR_FIELDS: tuple[str, ...] = ("date", "net_pnl", "trades", "wins", "losses")
EQUITY_CURVE_FIELDS: tuple[str, ...] = (
    "date",
    "cumulative_pnl",
    "equity",
    "drawdown",
    "drawdown_pct",
)

TOP_LEVEL_KEYS: tuple[str, ...] = (
    "account_ids",
    "currency",
    "starting_balance",
    "config",
    *SECTIONS,
    "breakdowns",
    "calendar",
    "equity_curve",
)
"""The keys of one KPI result, in order."""


def column_name(section: str, key: str) -> str:
    """The internal frame column of a scalar KPI."""
    return f"{section}.{key}"
