"""The engine's fast paths (a quiet tick, a trade inside the current day) against its full
path: the same outputs and the same state after every event. Worked examples pin the
edges where a fast path must hand over, each derived by hand from the template."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings

from risk_engine import AccountState, apply, rules, step
from risk_engine.engine import _quiet_trade, _step
from schemas import AccountEvent, BalanceEvent, BreachEvent, OutputEvent, TradeEvent
from schemas.records import as_record
from tests.unit.risk_engine.builders import CATALOG, account, closed_trade, open_trade, tick
from tests.unit.risk_engine.test_properties import account_streams

Event = AccountEvent | BalanceEvent | TradeEvent


def _fields(state: AccountState | None) -> dict[str, Any]:
    """A state's fields but the cached alert equity (each path may keep it differently)."""
    assert state is not None
    fields = {name: getattr(state, name) for name in AccountState.__dataclass_fields__}
    del fields["equity_alert"]
    return fields


def both_paths(*events: Event) -> tuple[AccountState, list[OutputEvent]]:
    """Apply the events through ``step`` (fast paths), the full path alone and ``apply``,
    in lockstep, and through ``step`` and ``apply`` again as the pipeline's records: every
    event's outputs and the state after it must agree."""
    fast = full = by_apply = by_record = by_record_apply = None
    found: list[OutputEvent] = []
    for event in events:
        fast, outputs = step(fast, event, CATALOG)
        full, full_outputs = _step(full, event, CATALOG)
        by_apply, breaches = apply(by_apply, event, CATALOG)
        record = as_record(event)
        by_record, record_outputs = step(by_record, record, CATALOG)
        by_record_apply, record_breaches = apply(by_record_apply, record, CATALOG)
        assert outputs == full_outputs == record_outputs
        assert breaches == record_breaches
        assert breaches == [item for item in outputs if isinstance(item, BreachEvent)]
        assert _fields(fast) == _fields(full) == _fields(by_apply)
        assert _fields(fast) == _fields(by_record) == _fields(by_record_apply)
        found += outputs
    assert fast is not None
    return fast, found


def takes_the_trade_fast_path(state: AccountState, event: TradeEvent) -> bool:
    return _quiet_trade(copy.deepcopy(state), event) is not None


def levels(found: list[OutputEvent], rule: str) -> list[int]:
    return [item.level for item in found if isinstance(item, BreachEvent) and item.rule == rule]


@settings(max_examples=150, deadline=None)
@given(account_streams("F1"))
def test_the_fast_paths_give_the_full_paths_outputs_and_state(events: list[Event]) -> None:
    both_paths(*events)


class TestATradeAtTheDaysEnd:
    """Personal, 25,000, trading day 00:00 UTC: a trade may lose 1 % of the balance (250)."""

    def _day_then(self, trade: TradeEvent) -> tuple[AccountState, list[OutputEvent]]:
        state, _ = both_paths(account("personal", 25_000.0), tick("2026-03-02 09:00", 25_000.0))
        return state, both_paths(
            account("personal", 25_000.0), tick("2026-03-02 09:00", 25_000.0), trade
        )[1]

    def test_a_close_a_microsecond_before_midnight_is_that_days_loss(self) -> None:
        trade = closed_trade("T1", "2026-03-02 23:50", "2026-03-02 23:59:59.999999", -300.0)
        state, found = self._day_then(trade)
        assert takes_the_trade_fast_path(state, trade)
        assert levels(found, "max_loss_per_trade") == [1, 2, 3]
        breach = next(item for item in found if isinstance(item, BreachEvent))
        assert breach.ts.isoformat() == "2026-03-02T23:59:59.999999+00:00"

    def test_a_close_exactly_at_midnight_rolls_the_day_first(self) -> None:
        """Entered on the 2nd (that day's entry), closed at the 3rd's start: the loss
        counts on the 3rd, whose day starts with the entry count cleared."""
        trade = closed_trade("T1", "2026-03-02 23:50", "2026-03-03 00:00", -300.0)
        state, _ = self._day_then(trade)
        assert not takes_the_trade_fast_path(state, trade)
        state, found = both_paths(
            account("personal", 25_000.0), tick("2026-03-02 09:00", 25_000.0), trade
        )
        assert levels(found, "max_loss_per_trade") == [1, 2, 3]
        assert state.day is not None and state.day.label.isoformat() == "2026-03-03"
        assert sorted(d.isoformat() for d in state.trading_days) == ["2026-03-02"]
        assert state.entries_today == []
        assert state.closed_today == {"T1"}
        assert state.loss_streak == 1
        assert state.status == "locked"  # a daily level 3 locks until the 4th starts


class TestLosingStreaks:
    """Personal: three losing trades in a row within the day is tilt level 1."""

    start = (account("personal", 25_000.0), tick("2026-03-02 09:00", 25_000.0))

    def test_a_breakeven_inside_a_losing_streak_neither_extends_nor_ends_it(self) -> None:
        state, found = both_paths(
            *self.start,
            closed_trade("T1", "2026-03-02 10:00", "2026-03-02 10:05", -50.0),
            closed_trade("T2", "2026-03-02 10:10", "2026-03-02 10:15", -50.0),
            closed_trade("T3", "2026-03-02 10:20", "2026-03-02 10:25", 0.0),
        )
        assert levels(found, "tilt") == []
        assert state.loss_streak == 2
        last = closed_trade("T4", "2026-03-02 11:00", "2026-03-02 11:05", -50.0)
        assert takes_the_trade_fast_path(state, last)
        state, found = both_paths(
            *self.start,
            closed_trade("T1", "2026-03-02 10:00", "2026-03-02 10:05", -50.0),
            closed_trade("T2", "2026-03-02 10:10", "2026-03-02 10:15", -50.0),
            closed_trade("T3", "2026-03-02 10:20", "2026-03-02 10:25", 0.0),
            last,
        )
        assert levels(found, "tilt") == [1]
        assert state.loss_streak == 3
        assert state.loss_streak_quantity == 3.0

    def test_a_win_inside_a_losing_streak_ends_it(self) -> None:
        state, found = both_paths(
            *self.start,
            closed_trade("T1", "2026-03-02 10:00", "2026-03-02 10:05", -50.0),
            closed_trade("T2", "2026-03-02 10:10", "2026-03-02 10:15", -50.0),
            closed_trade("T3", "2026-03-02 10:20", "2026-03-02 10:25", 0.01),
            closed_trade("T4", "2026-03-02 11:00", "2026-03-02 11:05", -50.0),
        )
        assert levels(found, "tilt") == []
        assert state.loss_streak == 1
        assert state.last_loss_exit is not None
        assert state.last_loss_exit.isoformat() == "2026-03-02T11:05:00+00:00"


class TestResentTrades:
    """Personal: duplicates are counted, never judged twice."""

    start = (account("personal", 25_000.0), tick("2026-03-02 09:00", 25_000.0))

    def test_an_open_resent_after_its_close_is_a_duplicate(self) -> None:
        state, found = both_paths(
            *self.start,
            open_trade("T1", "2026-03-02 10:00"),
            closed_trade("T1", "2026-03-02 10:00", "2026-03-02 10:05", -10.0),
        )
        resent = open_trade("T1", "2026-03-02 10:00")
        assert not takes_the_trade_fast_path(state, resent)
        state, found = both_paths(
            *self.start,
            open_trade("T1", "2026-03-02 10:00"),
            closed_trade("T1", "2026-03-02 10:00", "2026-03-02 10:05", -10.0),
            resent,
        )
        assert found == []
        assert state.duplicate_trades == 1
        assert len(state.entries_today) == 1  # the entry counted once, at the first open
        assert state.open_trades == set()
        assert state.closed_today == {"T1"}

    def test_a_close_after_its_open_counts_the_entry_once(self) -> None:
        state, _ = both_paths(*self.start, open_trade("T1", "2026-03-02 10:00"))
        close = closed_trade("T1", "2026-03-02 10:00", "2026-03-02 10:05", -10.0)
        assert takes_the_trade_fast_path(state, close)
        state, _ = both_paths(*self.start, open_trade("T1", "2026-03-02 10:00"), close)
        assert len(state.entries_today) == 1
        assert state.duplicate_trades == 0
        assert state.events_applied == 4

    def test_a_trade_entered_the_day_before_is_late(self) -> None:
        late = closed_trade("T1", "2026-03-01 23:00", "2026-03-02 10:05", -300.0)
        state, _ = both_paths(*self.start)
        assert not takes_the_trade_fast_path(state, late)
        state, found = both_paths(*self.start, late)
        # Its entry is not today's; its loss is (closed today): judged as today's trade.
        assert state.entries_today == []
        assert levels(found, "max_loss_per_trade") == [1, 2, 3]


class TestTheAlertEquity:
    """FTMO 2-step, 100,000: daily floor 95,000, level 1 at 70 % of 5,000 used (96,500)."""

    start = (account("ftmo-2step"), tick("2026-03-02 09:00", 100_000.0))

    def test_a_tick_exactly_at_the_alert_equity_takes_the_full_path_and_fires_nothing(
        self,
    ) -> None:
        state, _ = both_paths(*self.start)
        alert = rules.equity_alert(state)
        # 96,500 plus two tolerances of 1e-9 x 5,000: just above the level-1 equity.
        assert alert == 96_500.0 + 2 * 1e-9 * 5_000.0
        state, found = both_paths(*self.start, tick("2026-03-02 10:00", 100_000.0, alert))
        assert found == []
        assert state.equity == alert
        state, found = both_paths(
            *self.start,
            tick("2026-03-02 10:00", 100_000.0, alert),
            tick("2026-03-02 10:01", 100_000.0, 96_500.0),
        )
        assert levels(found, "max_daily_loss") == [1]

    def test_a_tick_that_starts_the_next_day_rolls_it_on_the_fast_path(self) -> None:
        """Midnight Prague is 23:00 UTC in March: the new day starts from the balance and
        equity at the boundary (99,000 and 98,000), so 94,000 is 5,000 below the
        start-of-day balance: level 3."""
        state, found = both_paths(
            *self.start,
            tick("2026-03-02 22:59", 99_000.0, 98_000.0),
            tick("2026-03-02 23:00", 99_000.0, 98_000.0),
            tick("2026-03-02 23:30", 99_000.0, 94_000.0),
        )
        assert levels(found, "max_daily_loss") == [1, 2, 3]
        assert state.start_of_day_balance == 99_000.0
        assert state.start_of_day_equity == 98_000.0
        assert state.day is not None and state.day.label.isoformat() == "2026-03-03"

    def test_a_new_peak_moves_only_an_intraday_trailing_threshold(self) -> None:
        """Apex 50K intraday: the threshold trails the peak by 2,500, so after a peak of
        51,000 an equity of 48,500 is the whole 2,500 down: level 3 (the account fails)."""
        state, found = both_paths(
            account("apex-50k-intraday", 50_000.0),
            tick("2026-03-02 15:00", 50_000.0),
            tick("2026-03-02 15:01", 50_000.0, 51_000.0),
            tick("2026-03-02 15:02", 50_000.0, 48_500.0),
        )
        assert levels(found, "trailing_drawdown") == [1, 2, 3]
        assert state.status == "failed"
