"""Durations, trading days, breakdowns by symbol/side/weekday/hour/month/session/tag, calendar."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest

from risk_engine.metrics import KpiConfig, engine
from tests.unit.metrics.builders import kpis, kpis_of, trade
from tests.unit.metrics.week import WEEK


def _rows(breakdown: list[dict[str, Any]]) -> dict[Any, tuple[Any, ...]]:
    return {
        row["key"]: (
            row["trades"],
            row["wins"],
            row["losses"],
            row["net_pnl"],
            row["profit_factor"],
        )
        for row in breakdown
    }


def test_durations_of_winners_and_losers() -> None:
    temporal = kpis(*WEEK)["temporal"]
    # 1 h x 6, 2 h (trade 3), 30 min (trade 5)
    assert temporal["average_duration_s"] == 3_825.0
    assert temporal["average_win_duration_s"] == 4_500.0  # 1 h, 2 h, 1 h, 1 h
    assert temporal["average_loss_duration_s"] == 3_000.0  # 1 h, 30 min, 1 h
    assert temporal["max_duration_s"] == 7_200.0
    assert temporal["first_entry_time"] == "2026-03-02T09:00:00Z"
    assert temporal["last_exit_time"] == "2026-03-05T17:00:00Z"


def test_trading_days() -> None:
    temporal = kpis(*WEEK)["temporal"]
    # Days: +80, +90, -80, +130
    assert (temporal["trading_days"], temporal["winning_days"], temporal["losing_days"]) == (
        4,
        3,
        1,
    )
    assert temporal["day_win_rate"] == 0.75
    assert temporal["average_daily_pnl"] == 55.0
    assert (temporal["best_day_pnl"], temporal["worst_day_pnl"]) == (130.0, -80.0)
    assert temporal["average_trades_per_day"] == 2.0


def test_calendar_has_one_cell_per_trading_day() -> None:
    assert kpis(*WEEK)["calendar"] == [
        {"date": "2026-03-02", "net_pnl": 80.0, "trades": 2, "wins": 1, "losses": 1},
        {"date": "2026-03-03", "net_pnl": 90.0, "trades": 2, "wins": 2, "losses": 0},
        {"date": "2026-03-04", "net_pnl": -80.0, "trades": 2, "wins": 0, "losses": 1},
        {"date": "2026-03-05", "net_pnl": 130.0, "trades": 2, "wins": 1, "losses": 1},
    ]


def test_by_symbol_and_side() -> None:
    breakdowns = kpis(*WEEK)["breakdowns"]
    assert _rows(breakdowns["by_symbol"]) == {
        "EURUSD": (4, 1, 2, 0.0, 1.0),
        "GBPUSD": (2, 1, 1, 130.0, 7.5),
        "XAUUSD": (2, 2, 0, 90.0, "Infinity"),
    }
    assert [row["key"] for row in breakdowns["by_symbol"]] == ["EURUSD", "GBPUSD", "XAUUSD"]
    assert _rows(breakdowns["by_side"]) == {
        "long": (5, 3, 1, 190.0, 10.5),
        "short": (3, 1, 2, 30.0, 1.25),
    }
    eurusd = breakdowns["by_symbol"][0]
    assert (eurusd["breakevens"], eurusd["win_rate"], eurusd["expectancy"]) == (1, 0.25, 0.0)
    assert (eurusd["gross_profit"], eurusd["gross_loss"]) == (120.0, -120.0)


def test_by_weekday_hour_and_session_use_the_entry() -> None:
    breakdowns = kpis(*WEEK)["breakdowns"]
    assert [(row["key"], row["net_pnl"]) for row in breakdowns["by_weekday"]] == [
        ("monday", 80.0),
        ("tuesday", 90.0),
        ("wednesday", -80.0),
        ("thursday", 130.0),
    ]
    assert [(row["key"], row["trades"], row["net_pnl"]) for row in breakdowns["by_hour"]] == [
        (9, 3, 100.0),
        (10, 1, 0.0),
        (11, 1, -40.0),
        (13, 1, 30.0),
        (15, 1, -20.0),
        (16, 1, 150.0),
    ]
    assert [(row["key"], row["trades"], row["net_pnl"]) for row in breakdowns["by_session"]] == [
        ("london", 5, 60.0),
        ("london_new_york", 2, 10.0),
        ("new_york", 1, 150.0),
    ]


def test_every_session_window() -> None:
    hours = {"asia": 0, "london": 7, "london_new_york": 12, "new_york": 16, "sydney": 21}
    trades = [trade(1.0, f"2026-03-02 {hour:02d}:00") for hour in hours.values()]
    trades += [trade(1.0, f"2026-03-03 {hour - 1:02d}:59") for hour in (7, 12, 16, 21)]
    by_session = {row["key"]: row["trades"] for row in kpis(*trades)["breakdowns"]["by_session"]}
    assert by_session == {"asia": 2, "london": 2, "london_new_york": 2, "new_york": 2, "sydney": 1}


def test_by_month_uses_the_exit_and_by_tag_counts_each_tag() -> None:
    breakdowns = kpis(
        trade(10.0, "2026-01-31 22:00", "2026-02-01 01:00", tags=["swing"]),
        trade(-4.0, "2026-02-10 09:00", tags=["swing", "news"]),
        trade(7.0, "2026-12-01 09:00"),
    )["breakdowns"]
    assert [(row["key"], row["net_pnl"]) for row in breakdowns["by_month"]] == [
        ("2026-02", 6.0),
        ("2026-12", 7.0),
    ]
    assert _rows(breakdowns["by_tag"]) == {
        "news": (1, 0, 1, -4.0, 0.0),
        "swing": (2, 1, 1, 6.0, 2.5),
    }


def test_week_tags() -> None:
    assert _rows(kpis(*WEEK)["breakdowns"]["by_tag"]) == {
        "breakout": (2, 2, 0, 180.0, "Infinity"),
        "news": (2, 1, 1, -20.0, 0.75),
    }


def test_time_zone_moves_days_weekdays_and_hours_but_not_sessions() -> None:
    # Sunday 23:30 UTC is Monday 00:30 in Prague (UTC+1 in March).
    result = kpis(
        trade(5.0, "2026-03-01 23:30", "2026-03-01 23:45"),
        config=KpiConfig(timezone="Europe/Prague"),
    )
    breakdowns = result["breakdowns"]
    assert [row["key"] for row in breakdowns["by_weekday"]] == ["monday"]
    assert [row["key"] for row in breakdowns["by_hour"]] == [0]
    assert [row["key"] for row in breakdowns["by_session"]] == ["sydney"]
    assert result["calendar"][0]["date"] == "2026-03-02"
    utc_result = kpis(trade(5.0, "2026-03-01 23:30", "2026-03-01 23:45"))
    assert [row["key"] for row in utc_result["breakdowns"]["by_weekday"]] == ["sunday"]
    assert utc_result["calendar"][0]["date"] == "2026-03-01"


def test_breakdowns_are_the_same_through_cells_for_dense_journals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Many trades per account take the cell path (see temporal.breakdowns); force it here.
    events = (
        *WEEK,
        trade(7.0, "2026-03-03 15:00", account_id="B", side="short"),
        trade(-2.0, "2026-03-06 22:00", account_id="B", tags=["news"]),
    )
    sparse = kpis_of(*events, config=KpiConfig(timezone="America/New_York"))
    monkeypatch.setattr(engine, "_DENSE_TRADES", 1)
    dense = kpis_of(*events, config=KpiConfig(timezone="America/New_York"))
    assert dense == sparse
    assert [row["key"] for row in dense["B"]["breakdowns"]["by_hour"]] == [10, 17]


def test_breakdowns_of_the_second_account() -> None:
    results = kpis_of(*WEEK, trade(7.0, "2026-03-03 15:00", account_id="B", side="short"))
    b = results["B"]["breakdowns"]
    assert [(row["key"], row["trades"]) for row in b["by_hour"]] == [(15, 1)]
    assert [(row["key"], row["trades"]) for row in b["by_side"]] == [("short", 1)]
    assert [(row["key"], row["trades"]) for row in b["by_weekday"]] == [("tuesday", 1)]
    assert [(row["key"], row["trades"]) for row in b["by_session"]] == [("london_new_york", 1)]


def test_calendar_and_equity_curve_on_a_local_clock() -> None:
    # In Tokyo (UTC+9) Thursday's two last exits (16:00 and 17:00 UTC) fall on Friday.
    result = kpis(*WEEK, config=KpiConfig(timezone="Asia/Tokyo"))
    assert [(cell["date"], cell["net_pnl"], cell["trades"]) for cell in result["calendar"]] == [
        ("2026-03-02", 80.0, 2),
        ("2026-03-03", 90.0, 2),
        ("2026-03-04", -80.0, 2),
        ("2026-03-06", 130.0, 2),
    ]
    assert [(point["date"], point["cumulative_pnl"]) for point in result["equity_curve"]] == [
        ("2026-03-02", 80.0),
        ("2026-03-03", 170.0),
        ("2026-03-04", 90.0),
        ("2026-03-06", 220.0),
    ]


def test_the_calendar_counts_the_rule_sets_trading_day() -> None:
    # Topstep: the day turns at 17:00 America/Chicago (CST = UTC-6 in January, so 23:00
    # UTC) and is labelled with the date it ends. Exits at 22:59 and 23:00 UTC on Tuesday
    # 13 January fall on Tuesday's and Wednesday's sessions.
    topstep = KpiConfig(timezone="America/Chicago", day_start=time(17, 0))
    result = kpis(
        trade(4.0, "2026-01-13 22:00", "2026-01-13 22:59"),
        trade(6.0, "2026-01-13 22:10", "2026-01-13 23:00"),
        trade(1.5, "2026-01-12 23:00", "2026-01-12 23:30"),  # Monday 17:30: Tuesday's
        config=topstep,
    )
    assert [(cell["date"], cell["net_pnl"]) for cell in result["calendar"]] == [
        ("2026-01-13", 5.5),
        ("2026-01-14", 6.0),
    ]
    assert result["config"]["day_start"] == "17:00"
    # FTMO: midnight Europe/Prague (CET = UTC+1): 22:59 UTC is the 14th, 23:01 the 15th.
    ftmo = kpis(
        trade(-2.0, "2026-01-14 22:00", "2026-01-14 22:59"),
        trade(3.0, "2026-01-14 22:30", "2026-01-14 23:01"),
        config=KpiConfig(timezone="Europe/Prague"),
    )
    assert [(cell["date"], cell["net_pnl"]) for cell in ftmo["calendar"]] == [
        ("2026-01-14", -2.0),
        ("2026-01-15", 3.0),
    ]
