"""Daily returns: which closes make them, and each return KPI computed by hand."""

from __future__ import annotations

import math
from statistics import NormalDist, mean, stdev

import pytest

from risk_engine.metrics import KpiConfig, daily_returns_frame
from tests.unit.metrics.builders import Event, account, journal, kpis, kpis_of, snapshot, trade
from tests.unit.metrics.week import WEEK

# Returns 1 %, -2 %, 3 %, -1 %, 0.5 % from a 10,000 initial balance.
RETURNS = [0.01, -0.02, 0.03, -0.01, 0.005]
CLOSES = [10_000 * math.prod(1 + r for r in RETURNS[: i + 1]) for i in range(len(RETURNS))]
FIVE_DAYS: tuple[Event, ...] = (
    account(10_000.0),
    *(snapshot(f"2026-03-0{day + 2} 21:00", close) for day, close in enumerate(CLOSES)),
)


def returns_of(
    *events: Event, combined: bool = False, config: KpiConfig | None = None
) -> list[float]:
    frame = daily_returns_frame(journal(*events), config, combined=combined)
    return frame.get_column("return").to_list()


def test_the_last_equity_of_each_day_is_its_close() -> None:
    events = (
        account(10_000.0),
        snapshot("2026-03-02 10:00", 10_050.0),
        snapshot("2026-03-02 21:00", 10_100.0, balance=10_000.0),  # equity, not balance
        snapshot("2026-03-03 21:00", 9_999.0),
        snapshot("2026-03-05 12:00", 10_200.0),  # 03-04 has no snapshot: no return that day
    )
    assert returns_of(*events) == pytest.approx([0.01, -0.01, 10_200 / 9_999 - 1], rel=1e-12)
    result = kpis(*events)["returns"]
    assert result["source"] == "equity_snapshots"
    assert (result["days"], result["first_day"], result["last_day"]) == (
        3,
        "2026-03-02",
        "2026-03-05",
    )


def test_without_an_initial_balance_the_first_day_has_no_return() -> None:
    events = (snapshot("2026-03-02 21:00", 10_100.0), snapshot("2026-03-03 21:00", 9_999.0))
    assert returns_of(*events) == pytest.approx([-0.01], rel=1e-12)


def test_closes_from_trades_when_there_are_no_snapshots() -> None:
    # End-of-day 10,080 10,170 10,090 10,220 from the 10,000 start.
    expected = [0.008, 10_170 / 10_080 - 1, 10_090 / 10_170 - 1, 10_220 / 10_090 - 1]
    assert returns_of(*WEEK) == pytest.approx(expected, rel=1e-12)
    assert kpis(*WEEK)["returns"]["source"] == "closed_trades"


def test_no_snapshots_and_no_initial_balance_means_no_returns() -> None:
    result = kpis(trade(10.0), trade(-5.0, "2026-03-03 09:00"))["returns"]
    assert result["days"] == 0
    assert result["source"] is None
    assert all(value is None for key, value in result.items() if key not in ("days",))


def test_the_day_follows_the_configured_time_zone() -> None:
    # 23:30 UTC on 03-02 is 00:30 on 03-03 in Prague: two closes on one Prague day.
    events = (
        account(10_000.0),
        snapshot("2026-03-02 12:00", 10_100.0),
        snapshot("2026-03-02 23:30", 10_200.0),
        snapshot("2026-03-03 12:00", 10_300.0),
    )
    assert len(returns_of(*events)) == 2
    prague = returns_of(*events, config=KpiConfig(timezone="Europe/Prague"))
    assert prague == pytest.approx([0.01, 10_300 / 10_100 - 1], rel=1e-12)


def test_several_accounts_sum_their_latest_closes() -> None:
    # A: snapshots on 03-02 and 03-04; B (no snapshots): closes from trades on 03-03.
    events = (
        account(1_000.0, "A"),
        account(3_000.0, "B"),
        snapshot("2026-03-02 21:00", 1_100.0, account_id="A"),
        snapshot("2026-03-04 21:00", 1_000.0, account_id="A"),
        trade(-300.0, "2026-03-03 09:00", account_id="B"),
    )
    # 03-02: 1,100 + 3,000 (B's initial); 03-03: 1,100 + 2,700; 03-04: 1,000 + 2,700.
    expected = [4_100 / 4_000 - 1, 3_800 / 4_100 - 1, 3_700 / 3_800 - 1]
    assert returns_of(*events, combined=True) == pytest.approx(expected, rel=1e-12)
    assert kpis(*events)["returns"]["source"] == "mixed"
    assert kpis_of(*events)["B"]["returns"]["source"] == "closed_trades"


def _sample_std(values: list[float]) -> float:
    return stdev(values)


def test_return_kpis_by_hand() -> None:
    r = RETURNS
    n = len(r)
    result = kpis(*FIVE_DAYS)["returns"]
    mu = mean(r)  # 0.003
    sd = _sample_std(r)
    assert result["days"] == 5
    assert result["average_daily_return"] == pytest.approx(0.003, rel=1e-12)
    total = 1.01 * 0.98 * 1.03 * 0.99 * 1.005 - 1
    assert result["total_return"] == pytest.approx(total, rel=1e-12)
    assert result["cagr"] == pytest.approx((1 + total) ** (252 / 5) - 1, rel=1e-9)
    assert result["volatility"] == pytest.approx(sd * math.sqrt(252), rel=1e-12)
    assert result["sharpe"] == pytest.approx(mu / sd * math.sqrt(252), rel=1e-12)
    downside = math.sqrt((0.02**2 + 0.01**2) / n)
    assert result["sortino"] == pytest.approx(mu / downside * math.sqrt(252), rel=1e-12)
    # Wealth 1.01, 0.9898, 1.019494, 1.00929906, 1.0143455553; peak 1.01 then 1.019494.
    drawdowns = [
        0.0,
        1 - 0.9898 / 1.01,
        0.0,
        1 - 1.00929906 / 1.019494,
        1 - 1.0143455553 / 1.019494,
    ]
    assert result["max_drawdown_pct"] == pytest.approx(0.02, rel=1e-12)
    assert result["ulcer_index"] == pytest.approx(
        math.sqrt(sum(d * d for d in drawdowns) / (n - 1)), rel=1e-12
    )
    assert result["calmar"] == pytest.approx(result["cagr"] / 0.02, rel=1e-12)
    assert result["recovery_factor"] == pytest.approx(sum(r) / 0.02, rel=1e-12)
    z = NormalDist().inv_cdf(0.05)
    assert result["var"] == pytest.approx(mu + sd * z, rel=1e-12)
    assert result["cvar"] == pytest.approx(mu - sd * NormalDist().pdf(z) / 0.05, rel=1e-12)
    # Sorted: -0.02 -0.01 0.005 0.01 0.03; the 5 % quantile sits 0.2 of the way from
    # -0.02 to -0.01.
    assert result["var_historical"] == pytest.approx(-0.018, rel=1e-12)
    assert result["cvar_historical"] == pytest.approx(-0.02, rel=1e-12)
    # The 95 % quantile: 0.8 of the way from 0.01 to 0.03.
    assert result["tail_ratio"] == pytest.approx(0.026 / 0.018, rel=1e-12)
    deviations = [x - mu for x in r]
    m2 = sum(d**2 for d in deviations)
    m3 = sum(d**3 for d in deviations)
    m4 = sum(d**4 for d in deviations)
    assert result["skew"] == pytest.approx(n * math.sqrt(n - 1) / (n - 2) * m3 / m2**1.5, rel=1e-9)
    kurtosis = n * (n + 1) * (n - 1) * m4 / ((n - 2) * (n - 3) * m2**2) - 3 * (n - 1) ** 2 / (
        (n - 2) * (n - 3)
    )
    assert result["kurtosis"] == pytest.approx(kurtosis, rel=1e-9)
    assert result["daily_win_rate"] == 0.6  # 3 up days of 5
    assert result["risk_of_ruin"] == pytest.approx((0.4 / 1.6) ** 5, rel=1e-12)
    assert result["best_day"] == pytest.approx(0.03, rel=1e-12)
    assert result["worst_day"] == pytest.approx(-0.02, rel=1e-12)


def test_risk_free_rate_is_deannualised_and_subtracted() -> None:
    rate = 0.04
    daily = (1 + rate) ** (1 / 252) - 1
    excess = [x - daily for x in RETURNS]
    result = kpis(*FIVE_DAYS, config=KpiConfig(risk_free_rate=rate))["returns"]
    assert result["sharpe"] == pytest.approx(
        mean(excess) / stdev(excess) * math.sqrt(252), rel=1e-9
    )
    downside = math.sqrt(sum(x * x for x in excess if x < 0) / len(excess))
    assert result["sortino"] == pytest.approx(mean(excess) / downside * math.sqrt(252), rel=1e-9)
    # Volatility is of the returns themselves.
    assert result["volatility"] == pytest.approx(stdev(RETURNS) * math.sqrt(252), rel=1e-12)


def test_growth_without_a_drawdown() -> None:
    result = kpis(
        account(10_000.0),
        snapshot("2026-03-02 21:00", 10_100.0),
        snapshot("2026-03-03 21:00", 10_200.0),
    )["returns"]
    assert result["max_drawdown_pct"] == 0.0
    assert result["calmar"] == "Infinity"
    assert result["recovery_factor"] is None
    assert result["sortino"] is None  # no downside day
    assert result["risk_of_ruin"] == 0.0


def test_a_single_return_has_no_spread() -> None:
    result = kpis(account(10_000.0), snapshot("2026-03-02 21:00", 9_900.0))["returns"]
    assert result["days"] == 1
    assert result["total_return"] == pytest.approx(-0.01, rel=1e-12)
    for key in ("volatility", "sharpe", "var", "cvar", "ulcer_index", "skew", "kurtosis"):
        assert result[key] is None, key
    assert result["max_drawdown_pct"] == pytest.approx(0.01, rel=1e-12)
