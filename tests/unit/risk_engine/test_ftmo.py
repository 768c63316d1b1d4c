"""FTMO rules, each test one worked example from the rulebook (account 100,000 USD)."""

from __future__ import annotations

import pytest

from tests.unit.risk_engine.builders import account, closed_trade, levels, run, tick


class TestFtmo2StepMaxDailyLoss:
    """Equity must stay above start-of-day balance − 5 % of the initial balance."""

    def test_equity_94999_after_a_flat_start_breaches_the_daily_loss(self) -> None:
        breaches = run(
            account("ftmo-2step"),
            tick("2026-03-02 08:00", 100_000),
            tick("2026-03-02 10:00", 100_000, 94_999),
        )
        assert levels(breaches) == [
            ("max_daily_loss", 1),
            ("max_daily_loss", 2),
            ("max_daily_loss", 3),
        ]
        level3 = breaches[-1]
        assert level3.value == pytest.approx(5_001)
        assert level3.limit == 5_000
        assert level3.threshold == 95_000
        assert level3.message == "Daily loss 5,001.00 reached the limit 5,000.00"

    def test_equity_touching_the_threshold_exactly_is_a_breach(self) -> None:
        breaches = run(account("ftmo-2step"), tick("2026-03-02 10:00", 100_000, 95_000))
        assert ("max_daily_loss", 3) in levels(breaches)

    def test_one_cent_above_the_threshold_is_danger_not_breach(self) -> None:
        breaches = run(account("ftmo-2step"), tick("2026-03-02 10:00", 100_000, 95_000.01))
        assert levels(breaches) == [("max_daily_loss", 1), ("max_daily_loss", 2)]

    def test_warning_at_70_percent_and_danger_at_90_percent(self) -> None:
        breaches = run(
            account("ftmo-2step"),
            tick("2026-03-02 09:00", 100_000, 96_600),  # 3,400 used: 68 %
            tick("2026-03-02 09:01", 100_000, 96_500),  # 3,500: 70 %
            tick("2026-03-02 09:02", 100_000, 95_600),  # 4,400: 88 %
            tick("2026-03-02 09:03", 100_000, 95_500),  # 4,500: 90 %
        )
        assert [(b.level, b.value, b.ts.minute) for b in breaches] == [(1, 3_500, 1), (2, 4_500, 3)]

    def test_a_profitable_day_raises_the_daily_floor(self) -> None:
        # FTMO's example: balance 105,000 at the day's start → equity must stay above 100,000.
        breaches = run(
            account("ftmo-2step"),
            tick("2026-03-02 12:00", 105_000),
            tick("2026-03-03 08:00", 105_000, 100_000.01),
            tick("2026-03-03 09:00", 105_000, 100_000),
        )
        daily = [b for b in breaches if b.rule == "max_daily_loss"]
        assert [b.level for b in daily] == [1, 2, 3]
        assert daily[-1].threshold == 100_000
        assert daily[-1].ts.hour == 9

    def test_the_day_starts_at_midnight_prague_and_each_level_fires_once_per_day(self) -> None:
        breaches = run(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000, 96_000),  # day 1: warning
            tick("2026-03-02 11:00", 100_000, 96_100),
            tick("2026-03-02 12:00", 100_000, 96_000),  # still day 1: no repeat
            tick("2026-03-02 22:59:59", 100_000, 96_000),  # 23:59:59 Prague: day 1
            tick("2026-03-02 23:00", 100_000, 96_000),  # 00:00 Prague: day 2, warns again
        )
        assert [(b.level, b.ts.hour) for b in breaches] == [(1, 10), (1, 23)]
        assert breaches[0].breach_id != breaches[1].breach_id

    def test_start_of_day_balance_is_the_balance_at_the_boundary(self) -> None:
        breaches = run(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000),
            tick("2026-03-02 20:00", 98_000),  # a loss realised on day 1
            tick("2026-03-03 09:00", 98_000, 93_000.01),  # day 2: floor 98,000 − 5,000
            tick("2026-03-03 09:05", 98_000, 93_000),
        )
        daily = [b for b in breaches if b.rule == "max_daily_loss"]
        assert [b.level for b in daily] == [1, 2, 3]
        assert {b.threshold for b in daily} == {93_000}
        assert daily[-1].ts.minute == 5


class TestFtmo2StepMaxLoss:
    """Equity must stay above 90 % of the initial balance."""

    def test_equity_90000_breaches_the_max_loss(self) -> None:
        breaches = run(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000, 96_000),
            tick("2026-03-03 10:00", 96_000, 92_000),
            tick("2026-03-04 10:00", 92_000, 90_000),
        )
        max_loss = [b for b in breaches if b.rule == "max_loss"]
        assert [b.level for b in max_loss] == [1, 2, 3]
        assert max_loss[-1].threshold == 90_000
        assert max_loss[-1].value == 10_000
        assert max_loss[-1].limit == 10_000

    def test_max_loss_levels_fire_once_in_the_accounts_life(self) -> None:
        breaches = run(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 93_000),  # 7,000 = 70 %
            tick("2026-03-03 10:00", 93_000),
            tick("2026-03-04 10:00", 94_000),
            tick("2026-03-05 10:00", 93_000),
        )
        assert levels(breaches, "max_loss") == [("max_loss", 1)]


class TestFtmo1Step:
    """Daily loss 3 %; max loss trails the highest end-of-day balance, never falling."""

    def test_daily_loss_is_3_percent_of_the_initial_balance(self) -> None:
        breaches = run(account("ftmo-1step"), tick("2026-03-02 10:00", 100_000, 97_000))
        daily = [b for b in breaches if b.rule == "max_daily_loss"]
        assert [b.level for b in daily] == [1, 2, 3]
        assert daily[-1].limit == 3_000

    def test_max_loss_trails_the_highest_end_of_day_balance(self) -> None:
        breaches = run(
            account("ftmo-1step"),
            tick("2026-03-02 10:00", 104_000),  # day 1 ends at 104,000
            tick("2026-03-03 10:00", 104_000, 101_900),  # day 2: floor 94,000; daily −2,100
            tick("2026-03-03 15:00", 101_500),  # day 2 ends at 101,500
            tick("2026-03-04 10:00", 101_500, 99_000),  # floor still 94,000 (never falls)
            tick("2026-03-05 10:00", 99_000, 96_500),
            tick("2026-03-06 10:00", 96_500, 94_000),
        )
        max_loss = [b for b in breaches if b.rule == "max_loss"]
        assert {b.threshold for b in max_loss} == {94_000}
        assert [b.level for b in max_loss] == [1, 2, 3]
        assert max_loss[-1].ts.day == 6

    def test_the_floor_never_drops_below_initial_minus_10_percent(self) -> None:
        breaches = run(
            account("ftmo-1step"),
            tick("2026-03-02 10:00", 98_000),
            tick("2026-03-03 10:00", 98_000, 97_000),
            tick("2026-03-04 10:00", 97_000, 95_000),
            tick("2026-03-05 10:00", 95_000, 93_000),
            tick("2026-03-06 10:00", 93_000, 91_000),
            tick("2026-03-09 10:00", 91_000, 90_000),
        )
        max_loss = [b for b in breaches if b.rule == "max_loss"]
        assert max_loss[-1].level == 3
        assert max_loss[-1].threshold == 90_000


def test_closed_trades_do_not_move_the_balance_only_snapshots_do() -> None:
    breaches = run(
        account("ftmo-2step"),
        tick("2026-03-02 09:00", 100_000),
        closed_trade("T-1", "2026-03-02 09:05", "2026-03-02 09:40", -6_000),
    )
    assert breaches == []
