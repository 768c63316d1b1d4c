"""The `personal` template: 2 % daily, 1 % per trade, overtrading and tilt (50,000 USD)."""

from __future__ import annotations

import pytest

from risk_engine import Armor, UnknownAccountError, breach_id
from schemas import AccountEvent, BalanceEvent, TradeEvent
from tests.unit.risk_engine.builders import (
    CATALOG,
    account,
    closed_trade,
    levels,
    open_trade,
    run,
    tick,
)

Event = AccountEvent | BalanceEvent | TradeEvent
START = tick("2026-03-02 08:00", 50_000)


def test_daily_loss_is_2_percent_of_the_start_of_day_balance() -> None:
    breaches = run(account("personal", 50_000), START, tick("2026-03-02 09:00", 50_000, 49_000))
    daily = [b for b in breaches if b.rule == "max_daily_loss"]
    assert [b.level for b in daily] == [1, 2, 3]
    assert daily[-1].limit == 1_000
    assert daily[-1].threshold == 49_000


class TestMaxLossPerTrade:
    def test_a_trade_losing_1_percent_of_the_balance_breaches(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            closed_trade("T-1", "2026-03-02 09:00", "2026-03-02 09:20", -500),
        )
        assert levels(breaches) == [
            ("max_loss_per_trade", 1),
            ("max_loss_per_trade", 2),
            ("max_loss_per_trade", 3),
        ]
        assert breaches[-1].limit == 500
        assert breaches[-1].message == "Loss on trade T-1 (EURUSD) 500.00 reached the limit 500.00"

    def test_a_loss_of_70_percent_of_the_limit_warns(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            closed_trade("T-1", "2026-03-02 09:00", "2026-03-02 09:20", -350),
        )
        assert levels(breaches) == [("max_loss_per_trade", 1)]

    def test_winning_trades_never_breach(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            closed_trade("T-1", "2026-03-02 09:00", "2026-03-02 09:20", 5_000),
        )
        assert breaches == []


class TestOvertrading:
    def test_ten_trades_a_day_warn_at_7_danger_at_9_and_breach_at_10(self) -> None:
        # Two hours apart, so the 30-minute window never fills.
        events: list[Event] = [account("personal", 50_000), START]
        events += [open_trade(f"T-{i}", f"2026-03-02 {i:02d}:00") for i in range(1, 12)]
        breaches = run(*events)
        assert [(b.level, b.value, b.ts.hour) for b in breaches] == [
            (1, 7, 7),
            (2, 9, 9),
            (3, 10, 10),
        ]
        assert breaches[-1].limit == 10
        assert breaches[-1].message == "Trades opened today: 10 reached the limit 10"

    def test_four_trades_in_thirty_minutes_breach_the_window(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            open_trade("T-1", "2026-03-02 09:00"),
            open_trade("T-2", "2026-03-02 09:10"),
            open_trade("T-3", "2026-03-02 09:20"),  # 3 of 4: 75 %
            open_trade("T-4", "2026-03-02 09:30"),  # 4 in [09:00, 09:30]
        )
        assert [(b.level, b.value, b.limit, b.ts.minute) for b in breaches] == [
            (1, 3, 4, 20),
            (2, 4, 4, 30),
            (3, 4, 4, 30),
        ]
        assert "within 30 minutes" in breaches[-1].message

    def test_the_window_slides(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            open_trade("T-1", "2026-03-02 09:00"),
            open_trade("T-2", "2026-03-02 09:20"),
            open_trade("T-3", "2026-03-02 09:40"),  # window [09:10, 09:40]: 2 trades
            open_trade("T-4", "2026-03-02 10:00"),
            open_trade("T-5", "2026-03-02 10:20"),
        )
        assert breaches == []

    def test_a_closed_event_of_an_opened_trade_is_not_a_second_entry(self) -> None:
        events: list[Event] = [account("personal", 50_000), START]
        for i in range(1, 7):
            events.append(open_trade(f"T-{i}", f"2026-03-02 {i:02d}:00"))
            events.append(
                closed_trade(f"T-{i}", f"2026-03-02 {i:02d}:00", f"2026-03-02 {i:02d}:30", 10)
            )
        assert run(*events) == []  # 6 entries: under 70 % of 10

    def test_the_count_starts_again_each_day(self) -> None:
        events: list[Event] = [account("personal", 50_000), START]
        events += [open_trade(f"D1-{i}", f"2026-03-02 {i:02d}:00") for i in range(1, 8)]
        events += [open_trade(f"D2-{i}", f"2026-03-03 {i:02d}:00") for i in range(1, 8)]
        breaches = run(*events)
        assert [(b.level, b.ts.day) for b in breaches] == [(1, 2), (1, 3)]


class TestTilt:
    """3 losses in a row warn; a trade within 15 minutes is revenge; 1.5x size is tilt."""

    LOSSES = (
        closed_trade("L-1", "2026-03-02 09:00", "2026-03-02 09:10", -100),
        closed_trade("L-2", "2026-03-02 09:15", "2026-03-02 09:25", -100, quantity=2),
        closed_trade("L-3", "2026-03-02 09:30", "2026-03-02 09:40", -100, quantity=3),
    )

    def test_three_losses_in_a_row_warn(self) -> None:
        breaches = run(account("personal", 50_000), START, *self.LOSSES)
        tilt = [b for b in breaches if b.rule == "tilt"]
        assert [(b.level, b.value, b.limit) for b in tilt] == [(1, 3, 3)]
        assert tilt[0].ts.minute == 40

    def test_a_trade_within_the_cool_down_is_revenge(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            *self.LOSSES,
            open_trade("R-1", "2026-03-02 09:50", quantity=2),  # 10 min later, average size
        )
        tilt = [b for b in breaches if b.rule == "tilt"]
        assert [b.level for b in tilt] == [1, 2]
        assert tilt[-1].message.startswith("Revenge trade: R-1 opened 10.0 min after 3 losses")

    def test_a_bigger_revenge_trade_is_tilt(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            *self.LOSSES,
            open_trade("R-1", "2026-03-02 09:45", quantity=3),  # 1.5x the average of 2
        )
        tilt = [b for b in breaches if b.rule == "tilt"]
        assert [b.level for b in tilt] == [1, 2, 3]
        assert tilt[-1].message.endswith("size 1.50x the losing streak's average")

    def test_a_revenge_trade_closed_at_midnight_belongs_to_its_entry_day(self) -> None:
        # Three losses end at 23:40; R-1 opens at 23:50 (10 minutes later: revenge) and
        # closes exactly at midnight. Its revenge breach fires in the day it was entered,
        # after that day's losing-streak warning: levels 1 then 2 of 2026-03-02 (each id
        # is derived from the day), none of 2026-03-03.
        late = (
            closed_trade("L-1", "2026-03-02 23:00", "2026-03-02 23:10", -100),
            closed_trade("L-2", "2026-03-02 23:15", "2026-03-02 23:25", -100, quantity=2),
            closed_trade("L-3", "2026-03-02 23:30", "2026-03-02 23:40", -100, quantity=3),
        )
        breaches = run(
            account("personal", 50_000),
            START,
            *late,
            closed_trade("R-1", "2026-03-02 23:50", "2026-03-03 00:00", 0, quantity=2),
        )
        tilt = [b for b in breaches if b.rule == "tilt"]
        assert [(b.level, b.ts.isoformat()) for b in tilt] == [
            (1, "2026-03-02T23:40:00+00:00"),
            (2, "2026-03-02T23:50:00+00:00"),
        ]
        assert [b.breach_id for b in tilt] == [
            breach_id("A1", "tilt", "2026-03-02", 1),
            breach_id("A1", "tilt", "2026-03-02", 2),
        ]

    def test_waiting_out_the_cool_down_is_fine(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            *self.LOSSES,
            open_trade("R-1", "2026-03-02 09:55:01", quantity=5),
        )
        assert levels(breaches, "tilt") == [("tilt", 1)]

    def test_a_win_ends_the_streak(self) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            *self.LOSSES[:2],
            closed_trade("W-1", "2026-03-02 09:26", "2026-03-02 09:29", 50),
            self.LOSSES[2],
            open_trade("R-1", "2026-03-02 09:45", quantity=9),
        )
        assert levels(breaches, "tilt") == []


def test_duplicate_trades_are_counted_not_applied_twice() -> None:
    armor = Armor(CATALOG)
    armor.process(account("personal", 50_000))
    armor.process(START)
    loss = closed_trade("T-1", "2026-03-02 09:00", "2026-03-02 09:20", -450)
    first = armor.process(loss)
    again = armor.process(loss)
    assert levels(first) == [("max_loss_per_trade", 1), ("max_loss_per_trade", 2)]
    assert again == []
    assert armor.accounts["A1"].duplicate_trades == 1
    assert armor.accounts["A1"].entries_today == [loss.entry_time]


def test_a_tick_for_an_unknown_account_is_rejected() -> None:
    with pytest.raises(UnknownAccountError, match="'B9' is not registered"):
        run(account("personal"), tick("2026-03-02 09:00", 1_000, account_id="B9"))


def test_overrides_change_a_templates_numbers() -> None:
    breaches = run(
        account("personal", 50_000, overrides={"max_daily_loss": {"limit_amount": 200}}),
        START,
        tick("2026-03-02 09:00", 50_000, 49_800),
    )
    daily = [b for b in breaches if b.rule == "max_daily_loss"]
    assert daily[-1].level == 3
    assert daily[-1].limit == 200


def test_an_override_of_null_switches_a_rule_off() -> None:
    events: list[Event] = [account("personal", 50_000, overrides={"overtrading": None}), START]
    events += [open_trade(f"T-{i}", f"2026-03-02 {i:02d}:00") for i in range(1, 12)]
    assert run(*events) == []


class TestTradeMemoryStaysBounded:
    """Dedup needs only open positions and the day's closed trades."""

    def test_a_resent_close_from_an_earlier_day_is_late_not_a_new_loss(self) -> None:
        armor = Armor(CATALOG)
        armor.process(account("personal", 50_000))
        armor.process(START)
        loss = closed_trade("T-1", "2026-03-02 09:00", "2026-03-02 09:20", -600)
        assert levels(armor.process(loss), "max_loss_per_trade")[-1] == ("max_loss_per_trade", 3)
        armor.process(tick("2026-03-03 08:00", 49_400))
        assert armor.process(loss) == []
        state = armor.accounts["A1"]
        assert (state.late_trades, state.duplicate_trades) == (1, 0)
        assert state.closed_today == set()

    def test_only_open_positions_and_todays_closes_are_remembered(self) -> None:
        armor = Armor(CATALOG)
        armor.process(account("personal", 50_000))
        armor.process(START)
        for day in range(2, 9):
            for number in range(3):
                trade_id = f"D{day}-{number}"
                armor.process(open_trade(trade_id, f"2026-03-{day:02d} 09:0{number}"))
                armor.process(
                    closed_trade(
                        trade_id,
                        f"2026-03-{day:02d} 09:0{number}",
                        f"2026-03-{day:02d} 10:0{number}",
                        5,
                    )
                )
        armor.process(open_trade("RUNNER", "2026-03-08 11:00"))
        state = armor.accounts["A1"]
        assert state.open_trades == {"RUNNER"}
        assert state.closed_today == {"D8-0", "D8-1", "D8-2"}

    def test_a_position_held_overnight_counts_its_entry_on_day_one_its_loss_on_day_two(
        self,
    ) -> None:
        breaches = run(
            account("personal", 50_000),
            START,
            open_trade("SWING", "2026-03-02 22:00"),
            tick("2026-03-03 08:00", 49_400),
            open_trade("SWING", "2026-03-02 22:00"),  # a re-sent open: a duplicate
            closed_trade("SWING", "2026-03-02 22:00", "2026-03-03 09:00", -600),
        )
        per_trade = [b for b in breaches if b.rule == "max_loss_per_trade"]
        assert [b.level for b in per_trade] == [1, 2, 3]
        assert {b.ts.day for b in per_trade} == {3}
