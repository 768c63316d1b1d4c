"""FundedNext Stellar 2-step: the daily loss resets at midnight server time, GMT+2 in
winter and GMT+3 in summer (the forex servers' convention: always 17:00 New York)."""

from __future__ import annotations

from datetime import date

from risk_engine.calendar import trading_day_of
from tests.unit.risk_engine.builders import CATALOG, account, levels, run, tick, utc

RULESET = CATALOG("fundednext-stellar-2step")


def test_in_winter_the_day_turns_at_22_00_utc() -> None:
    breaches = run(
        account("fundednext-stellar-2step"),
        tick("2026-01-13 10:00", 100_000, 96_000),  # 4,000 of 5,000: warning
        tick("2026-01-13 21:59:59", 100_000, 96_000),  # 23:59:59 server: the same day
        tick("2026-01-13 22:00", 100_000, 96_000),  # 00:00 server (GMT+2): a new day
    )
    assert [(b.level, b.ts.hour) for b in breaches] == [(1, 10), (1, 22)]


def test_in_summer_the_day_turns_at_21_00_utc() -> None:
    breaches = run(
        account("fundednext-stellar-2step"),
        tick("2026-07-14 10:00", 100_000, 96_000),
        tick("2026-07-14 20:59:59", 100_000, 96_000),
        tick("2026-07-14 21:00", 100_000, 96_000),  # 00:00 server (GMT+3): a new day
    )
    assert [(b.level, b.ts.hour) for b in breaches] == [(1, 10), (1, 21)]


def test_a_day_is_labelled_with_its_server_date() -> None:
    day = trading_day_of(utc("2026-07-14 21:30"), RULESET.zone, RULESET.day_start)
    assert day.label == date(2026, 7, 15)
    assert (day.start, day.end) == (utc("2026-07-14 21:00"), utc("2026-07-15 21:00"))


def test_the_daily_floor_is_below_the_higher_of_balance_and_equity_at_the_start() -> None:
    breaches = run(
        account("fundednext-stellar-2step"),
        tick("2026-01-13 21:00", 100_000, 102_000),  # floating profit at the day's end
        tick("2026-01-14 08:00", 100_000, 97_000.01),  # new day from 102,000: floor 97,000
        tick("2026-01-14 08:05", 100_000, 97_000),
    )
    daily = [b for b in breaches if b.rule == "max_daily_loss"]
    assert levels(daily) == [("max_daily_loss", 1), ("max_daily_loss", 2), ("max_daily_loss", 3)]
    assert daily[-1].threshold == 97_000
