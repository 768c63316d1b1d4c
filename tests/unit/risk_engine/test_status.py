"""Account status: active, locked for the day, failed, passed. Worked examples, each
derived by hand from the template's numbers (docs/rules.md, "Account status")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from risk_engine import Armor, snapshot, status_id
from schemas import AccountEvent, BalanceEvent, BreachEvent, OutputEvent, StatusEvent, TradeEvent
from tests.unit.risk_engine.builders import CATALOG, account, closed_trade, open_trade, tick


def outputs(*events: AccountEvent | BalanceEvent | TradeEvent) -> list[OutputEvent]:
    armor = Armor(CATALOG)
    found: list[OutputEvent] = []
    for event in events:
        found.extend(armor.process_all(event))
    return found


def kinds(found: list[OutputEvent]) -> list[tuple[str, str, int | str]]:
    """``("breach", rule, level)`` and ``("status", previous, status)`` in output order."""
    return [
        ("breach", item.rule, item.level)
        if isinstance(item, BreachEvent)
        else ("status", item.previous, item.status)
        for item in found
    ]


def statuses(found: list[OutputEvent]) -> list[StatusEvent]:
    return [item for item in found if isinstance(item, StatusEvent)]


class TestLockedForTheDay:
    """FTMO 2-step, 100,000: daily floor = start-of-day balance − 5,000."""

    def test_daily_level_3_locks_until_midnight_prague_then_the_next_day_unlocks(self) -> None:
        found = outputs(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000, 94_999),  # 5,001 used of 5,000
            tick("2026-03-02 22:59", 100_000, 96_000),  # 23:59 Prague: still locked
            tick("2026-03-02 23:00", 100_000, 99_000),  # 00:00 Prague: a new day
        )
        assert kinds(found) == [
            ("breach", "max_daily_loss", 1),
            ("breach", "max_daily_loss", 2),
            ("breach", "max_daily_loss", 3),
            ("status", "active", "locked"),
            ("status", "locked", "active"),
        ]
        locked, active = statuses(found)
        # March in Prague is CET (UTC+1): the next trading day starts at 23:00 UTC.
        assert locked.until == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
        assert locked.ts == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        assert locked.rule == "max_daily_loss"
        assert locked.message == (
            "max_daily_loss reached level 3 (Daily loss 5,001.00 reached the limit 5,000.00): "
            "trading is locked until the next trading day starts at 2026-03-02T23:00:00Z"
        )
        assert active.ts == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
        assert active.until is None and active.rule is None
        assert locked.status_id == status_id("A1", "locked", "2026-03-02")
        assert active.status_id == status_id("A1", "active", "2026-03-03")
        assert locked.status_id != active.status_id

    def test_summer_time_moves_the_unlock_to_22_utc(self) -> None:
        found = outputs(account("ftmo-2step"), tick("2026-07-01 10:00", 100_000, 95_000))
        (locked,) = statuses(found)
        assert locked.until == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)  # CEST, UTC+2

    def test_a_locked_account_that_trades_anyway_still_gets_breaches(self) -> None:
        # Locked at 10:00; at 11:00 equity 89,000 uses 11,000 of the 10,000 total loss:
        # max_loss fires levels 1-3 and the account fails (from locked).
        found = outputs(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000, 95_000),
            tick("2026-03-02 11:00", 100_000, 89_000),
        )
        assert kinds(found)[3:] == [
            ("status", "active", "locked"),
            ("breach", "max_loss", 1),
            ("breach", "max_loss", 2),
            ("breach", "max_loss", 3),
            ("status", "locked", "failed"),
        ]

    def test_another_daily_level_3_the_same_day_changes_nothing(self) -> None:
        # personal: the 1 % per-trade limit of 100,000 is 1,000; then the 2 % daily loss.
        found = outputs(
            account("personal"),
            tick("2026-03-02 09:00", 100_000),
            closed_trade("T1", "2026-03-02 09:00", "2026-03-02 09:30", -1_000),
            tick("2026-03-02 09:31", 99_000, 97_900),  # 2,100 of 2,000 daily
        )
        assert [(s.previous, s.status, s.rule) for s in statuses(found)] == [
            ("active", "locked", "max_loss_per_trade")
        ]
        assert ("breach", "max_daily_loss", 3) in kinds(found)

    def test_a_late_event_from_before_the_unlock_keeps_the_lock(self) -> None:
        found = outputs(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000, 95_000),
            tick("2026-03-02 09:00", 100_000, 99_000),  # late: stays in the locked day
        )
        assert [s.status for s in statuses(found)] == ["locked"]

    def test_locked_again_the_next_day_gets_its_own_id(self) -> None:
        found = outputs(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000, 95_000),
            tick("2026-03-03 10:00", 100_000, 95_000),  # unlock, then lock again
        )
        assert [(s.status, s.ts.day) for s in statuses(found)] == [
            ("locked", 2),
            ("active", 3),
            ("locked", 3),
        ]
        assert len({s.status_id for s in statuses(found)}) == 3


class TestFailed:
    def test_trailing_drawdown_level_3_fails_an_apex_account(self) -> None:
        # Apex 50K: threshold 50,000 − 2,500 = 47,500; equity 47,500 reaches it.
        found = outputs(
            account("apex-50k-intraday", 50_000), tick("2026-03-02 15:00", 50_000, 47_500)
        )
        (failed,) = statuses(found)
        assert (failed.previous, failed.status, failed.rule) == (
            "active",
            "failed",
            "trailing_drawdown",
        )
        assert failed.until is None
        assert failed.status_id == status_id("A1", "failed", "life")

    def test_life_and_daily_level_3_on_one_tick_fail_without_locking(self) -> None:
        found = outputs(account("ftmo-2step"), tick("2026-03-02 10:00", 100_000, 89_000))
        assert kinds(found)[-1] == ("status", "active", "failed")
        assert [s.status for s in statuses(found)] == ["failed"]

    def test_failed_is_final_but_later_breaches_still_fire(self) -> None:
        found = outputs(
            account("ftmo-2step"),
            tick("2026-03-02 10:00", 100_000, 89_000),  # failed
            # Next day: start-of-day balance 100,000 (the balance at the boundary), floor
            # 95,000; equity 84,000 fires the daily levels again, the status stays failed.
            tick("2026-03-03 09:00", 100_000, 84_000),
        )
        assert [s.status for s in statuses(found)] == ["failed"]
        next_day = [
            (item.rule, item.level)
            for item in found
            if isinstance(item, BreachEvent) and item.ts.day == 3
        ]
        assert next_day == [("max_daily_loss", 1), ("max_daily_loss", 2), ("max_daily_loss", 3)]


class TestPassed:
    """FTMO 2-step: profit target 10 % (10,000) and at least 4 trading days."""

    EVENTS = (
        account("ftmo-2step"),
        closed_trade("T1", "2026-03-02 09:00", "2026-03-02 09:30", 4_000),
        tick("2026-03-02 09:30", 104_000),
        closed_trade("T2", "2026-03-03 09:00", "2026-03-03 09:30", 4_000),
        tick("2026-03-03 09:30", 108_000),
        closed_trade("T3", "2026-03-04 09:00", "2026-03-04 09:30", 2_500),
        tick("2026-03-04 09:30", 110_500),  # target met (10,500) but 3 trading days
    )

    def test_target_met_on_too_few_days_is_not_a_pass(self) -> None:
        assert statuses(outputs(*self.EVENTS)) == []

    def test_the_fourth_trading_day_passes_the_challenge(self) -> None:
        found = outputs(*self.EVENTS, open_trade("T4", "2026-03-05 09:00"))
        (passed,) = statuses(found)
        assert (passed.previous, passed.status) == ("active", "passed")
        assert passed.ts == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
        assert (
            passed.message
            == "Objectives met: profit 10,500.00 of the target 10,000.00, 4 trading days"
        )
        assert passed.status_id == status_id("A1", "passed", "life")

    def test_a_plain_tick_within_the_day_passes_once_the_days_are_met(self) -> None:
        # Four trading days of 1,000 each (104,000), then the same day a tick at 110,500:
        # 10,500 of the 10,000 target. That tick is the per-tick fast path's case (same
        # day, far above every alert equity): it must still pass the challenge.
        found = outputs(
            account("ftmo-2step"),
            *(
                closed_trade(f"T{day}", f"2026-03-0{day} 09:00", f"2026-03-0{day} 09:30", 1_000)
                for day in (2, 3, 4, 5)
            ),
            tick("2026-03-05 09:30", 104_000),
            tick("2026-03-05 10:00", 110_500),
        )
        (passed,) = statuses(found)
        assert passed.ts == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
        assert (
            passed.message
            == "Objectives met: profit 10,500.00 of the target 10,000.00, 4 trading days"
        )

    def test_passed_is_final(self) -> None:
        # After the pass, equity 99,000 on a 110,500 start of day: 11,500 of 5,000 daily.
        found = outputs(
            *self.EVENTS,
            open_trade("T4", "2026-03-05 09:00"),
            tick("2026-03-05 10:00", 110_500, 99_000),
        )
        assert [s.status for s in statuses(found)] == ["passed"]
        assert ("breach", "max_daily_loss", 3) in kinds(found)

    def test_a_template_without_objectives_never_passes(self) -> None:
        found = outputs(account("personal"), tick("2026-03-02 09:00", 1_000_000))
        assert statuses(found) == []


class TestSnapshot:
    def test_status_and_headroom_in_the_standing(self) -> None:
        armor = Armor(CATALOG)
        for event in (account("ftmo-2step"), tick("2026-03-02 10:00", 100_000, 96_600)):
            armor.process_all(event)
        view = snapshot(armor.accounts["A1"])
        assert view.status == "active" and view.status_until is None
        daily = next(rule for rule in view.rules if rule.rule == "max_daily_loss")
        # 3,400 of 5,000 used: level 1 (70 %) at 3,500 is 100 away, level 3 at 5,000 1,600.
        assert (daily.level, daily.next_level) == (0, 1)
        assert daily.headroom_next == pytest.approx(100)
        assert daily.headroom_breach == pytest.approx(1_600)

        armor.process_all(tick("2026-03-02 10:01", 100_000, 96_500))  # level 1 fires
        daily = next(r for r in snapshot(armor.accounts["A1"]).rules if r.rule == "max_daily_loss")
        # Level 2 (90 %) at 4,500 is 1,000 away.
        assert (daily.level, daily.next_level) == (1, 2)
        assert daily.headroom_next == pytest.approx(1_000)

        armor.process_all(tick("2026-03-02 10:02", 100_000, 94_000))  # level 3: locked
        view = snapshot(armor.accounts["A1"])
        daily = next(r for r in view.rules if r.rule == "max_daily_loss")
        assert (daily.level, daily.next_level, daily.headroom_next) == (3, None, None)
        assert daily.headroom_breach == 0
        assert view.status == "locked"
        assert view.status_rule == "max_daily_loss"
        assert view.status_until == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)

    def test_overtrading_standing_counts_todays_entries(self) -> None:
        armor = Armor(CATALOG)
        armor.process_all(account("personal"))
        for number in range(7):  # the 7th of 10 trades fires level 1 (70 %)
            armor.process_all(open_trade(f"T{number}", f"2026-03-02 0{number}:00"))
        standing = next(r for r in snapshot(armor.accounts["A1"]).rules if r.rule == "overtrading")
        assert (standing.used, standing.limit, standing.level) == (7, 10, 1)
        assert (standing.next_level, standing.headroom_next, standing.headroom_breach) == (2, 2, 3)
        assert standing.window_minutes is None  # the day's count

    def test_overtrading_standing_counts_what_its_breach_reported(self) -> None:
        # personal: 10 trades a day, 4 within 30 minutes. Four trades in 15 minutes: the
        # window's 4 of 4 is level 3 (the day's 4 of 10 is level 0), so the breach and the
        # card both say 4 of 4 within 30 minutes, not 4 of 10 today.
        armor = Armor(CATALOG)
        armor.process_all(account("personal"))
        found: list[OutputEvent] = []
        for number, minute in enumerate((0, 5, 10, 15)):
            found += armor.process_all(open_trade(f"T{number}", f"2026-03-02 09:{minute:02d}"))
            if number == 1:
                # 2 of 4 within 30 minutes: level 1 (70 % of 4 = 2.8) fires at the 3rd trade,
                # so 1 trade is left to it (whole trades, not 0.8) and 2 to level 3.
                two = next(
                    r for r in snapshot(armor.accounts["A1"]).rules if r.rule == "overtrading"
                )
                assert (two.used, two.limit, two.window_minutes) == (2, 4, 30)
                assert (two.next_level, two.headroom_next, two.headroom_breach) == (1, 1, 2)
        breach = [b for b in found if isinstance(b, BreachEvent)][-1]
        assert (breach.rule, breach.level, breach.value, breach.limit) == ("overtrading", 3, 4, 4)
        standing = next(r for r in snapshot(armor.accounts["A1"]).rules if r.rule == "overtrading")
        assert (standing.used, standing.limit, standing.level) == (breach.value, breach.limit, 3)
        assert standing.window_minutes == 30
        assert standing.headroom_breach == 0
        # At 09:50 the window [09:20, 09:50] holds no trade: the nearer limit is the day's,
        # 4 of 10 (6 left), and level 3 stays fired for the day.
        armor.process_all(tick("2026-03-02 09:50", 100_000, 100_000))
        standing = next(r for r in snapshot(armor.accounts["A1"]).rules if r.rule == "overtrading")
        assert (standing.used, standing.limit, standing.level) == (4, 10, 3)
        assert standing.window_minutes is None
        assert standing.headroom_breach == 6


def test_replaying_the_same_events_gives_the_same_status_ids() -> None:
    events = (
        account("ftmo-2step"),
        tick("2026-03-02 10:00", 100_000, 95_000),
        tick("2026-03-03 10:00", 100_000, 89_000),
    )
    first, second = outputs(*events), outputs(*events)
    assert first == second
    assert [s.status for s in statuses(first)] == ["locked", "active", "failed"]
