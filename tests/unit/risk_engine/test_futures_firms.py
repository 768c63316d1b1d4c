"""Topstep (end-of-day trailing) and Apex (intraday trailing) on 50,000 USD accounts."""

from __future__ import annotations

from tests.unit.risk_engine.builders import account, levels, run, tick


class TestTopstep50k:
    """Balance + open P&L above (highest end-of-day balance − 2,000), moving at 17:00 Chicago."""

    def test_a_new_account_may_lose_2000(self) -> None:
        breaches = run(
            account("topstep-50k", 50_000),
            tick("2026-03-02 15:00", 50_000, 48_000.01),
            tick("2026-03-02 15:01", 50_000, 48_000),
        )
        trailing = [b for b in breaches if b.rule == "trailing_drawdown"]
        assert [b.level for b in trailing] == [1, 2, 3]
        assert trailing[-1].threshold == 48_000
        assert trailing[-1].ts.minute == 1

    def test_intraday_highs_do_not_move_the_threshold(self) -> None:
        breaches = run(
            account("topstep-50k", 50_000),
            tick("2026-03-02 15:00", 50_000, 51_500),  # open profit, same session
            tick("2026-03-02 16:00", 50_000, 48_700),  # 1,300 below 50,000: 65 %
        )
        assert breaches == []

    def test_the_threshold_moves_up_with_the_end_of_day_balance(self) -> None:
        # Winter: 17:00 CST = 23:00 UTC. The session of 2 March ends at 23:00 UTC.
        breaches = run(
            account("topstep-50k", 50_000),
            tick("2026-03-02 22:59", 51_000),  # end of day balance 51,000
            tick("2026-03-02 23:00", 51_000, 49_001),  # new session: threshold 49,000
            tick("2026-03-02 23:05", 51_000, 49_000),
        )
        trailing = [b for b in breaches if b.rule == "trailing_drawdown"]
        assert {b.threshold for b in trailing} == {49_000}
        assert [b.level for b in trailing] == [1, 2, 3]
        assert trailing[-1].ts.minute == 5

    def test_the_threshold_stops_at_the_initial_balance(self) -> None:
        # Topstep: once the end-of-day balance reaches 52,000 the limit stays at 50,000.
        breaches = run(
            account("topstep-50k", 50_000),
            tick("2026-03-02 20:00", 53_000),
            tick("2026-03-03 20:00", 55_000),
            tick("2026-03-04 15:00", 55_000, 50_000.01),
            tick("2026-03-04 16:00", 55_000, 50_000),
        )
        trailing = [b for b in breaches if b.rule == "trailing_drawdown"]
        assert {b.threshold for b in trailing} == {50_000}
        assert trailing[-1].level == 3
        assert trailing[-1].ts.hour == 16

    def test_the_session_boundary_follows_chicago_daylight_saving(self) -> None:
        # US DST starts 8 March 2026: 17:00 CDT = 22:00 UTC from then on.
        breaches = run(
            account("topstep-50k", 50_000),
            tick("2026-03-09 21:59", 51_000),  # 16:59 CDT: still the 9 March session
            tick("2026-03-09 22:00", 51_000, 49_000),  # 17:00 CDT: new session, limit 49,000
        )
        trailing = [b for b in breaches if b.rule == "trailing_drawdown"]
        assert trailing[-1].level == 3
        assert trailing[-1].threshold == 49_000

    def test_before_the_dst_change_the_boundary_is_23_utc(self) -> None:
        breaches = run(
            account("topstep-50k", 50_000),
            tick("2026-03-06 22:30", 51_000),  # 16:30 CST: the 6 March session goes on
            tick("2026-03-06 22:45", 51_000, 48_500),  # still threshold 48,000: 75 % used
        )
        assert levels(breaches) == [("trailing_drawdown", 1)]
        assert breaches[0].threshold == 48_000


class TestApex50kIntraday:
    """Equity above (highest equity including open P&L − 2,500), locking at initial + 100."""

    def test_the_threshold_trails_open_profit(self) -> None:
        breaches = run(
            account("apex-50k-intraday", 50_000),
            tick("2026-03-02 15:00", 50_000, 51_000),  # open profit: peak 51,000
            tick("2026-03-02 15:05", 50_000, 48_500),  # threshold 48,500 reached
        )
        trailing = [b for b in breaches if b.rule == "trailing_drawdown"]
        assert [b.level for b in trailing] == [1, 2, 3]
        assert trailing[-1].threshold == 48_500
        assert trailing[-1].value == 2_500

    def test_the_threshold_locks_at_initial_plus_100(self) -> None:
        breaches = run(
            account("apex-50k-intraday", 50_000),
            tick("2026-03-02 15:00", 50_000, 52_600),  # threshold reaches 50,100
            tick("2026-03-02 15:10", 54_000, 54_000),  # would trail to 51,500: locked
            tick("2026-03-02 15:20", 54_000, 50_100.01),
            tick("2026-03-02 15:30", 54_000, 50_100),
        )
        trailing = [b for b in breaches if b.rule == "trailing_drawdown"]
        assert {b.threshold for b in trailing} == {50_100}
        assert trailing[-1].level == 3
        assert trailing[-1].ts.minute == 30

    def test_a_gap_down_through_two_levels_emits_both_in_order(self) -> None:
        breaches = run(
            account("apex-50k-intraday", 50_000),
            tick("2026-03-02 15:00", 50_000, 49_000),  # 1,000 of 2,500: 40 %
            tick("2026-03-02 15:01", 50_000, 47_700),  # 2,300: 92 % → warning and danger
        )
        assert [(b.level, b.ts.minute) for b in breaches] == [(1, 1), (2, 1)]
        assert breaches[0].breach_id != breaches[1].breach_id
