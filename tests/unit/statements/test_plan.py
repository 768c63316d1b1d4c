"""The import plan: dedup outcomes and the running balance, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.statements.model import CashMovement
from connectors.statements.plan import TradeRow, cash_key, plan
from schemas.events import BalanceEvent, TradeEvent

ACC = "ACC-1"


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def closed(trade_id: str, pnl: float, day: int, hour: int) -> TradeEvent:
    return TradeEvent(
        account_id=ACC,
        broker_trade_id=trade_id,
        status="closed",
        symbol="EURUSD",
        side="long",
        quantity=1.0,
        entry_price=1.1,
        entry_time=at(day, hour - 1),
        exit_price=1.2,
        exit_time=at(day, hour),
        pnl=pnl,
    )


def opened(trade_id: str, day: int, hour: int) -> TradeEvent:
    return TradeEvent(
        account_id=ACC,
        broker_trade_id=trade_id,
        status="open",
        symbol="EURUSD",
        side="long",
        quantity=1.0,
        entry_price=1.1,
        entry_time=at(day, hour),
    )


def rows(*trades: TradeEvent) -> list[TradeRow]:
    return [TradeRow(t, n) for n, t in enumerate(trades, start=2)]


def balances(events: list[TradeEvent | BalanceEvent]) -> list[float]:
    return [e.balance for e in events if isinstance(e, BalanceEvent)]


def test_deposit_first_starts_from_zero_and_events_are_in_time_order() -> None:
    deposit = CashMovement(at(1, 8), 10_000.0, "deposit", "D1")
    withdrawal = CashMovement(at(3, 12), -1_000.0, "withdrawal", "D2")
    # trades listed out of time order in the file
    result = plan(
        rows(closed("B", -200.0, 4, 11), closed("A", 500.0, 2, 14), opened("C", 5, 9)),
        [withdrawal, deposit],
        account_id=ACC,
        stored_status={},
        stored_cash=set(),
        initial_balance=100_000.0,  # ignored: the file starts with its funding
    )
    assert result.start_balance == 0.0
    # 0 + 10 000 = 10 000; +500 = 10 500; -1 000 = 9 500; -200 = 9 300; C opens: none.
    assert balances(result.events) == [10_000.0, 10_500.0, 9_500.0, 9_300.0]
    order = [e.broker_trade_id if isinstance(e, TradeEvent) else e.balance for e in result.events]
    assert order == [10_000.0, "A", 10_500.0, 9_500.0, "B", 9_300.0, "C"]
    assert [len(result.trades[k]) for k in ("new", "updated", "duplicate")] == [3, 0, 0]


def test_without_deposit_the_initial_balance_or_the_stored_balance_is_the_start() -> None:
    fresh = plan(
        rows(closed("A", 250.0, 2, 14)),
        [],
        account_id=ACC,
        stored_status={},
        stored_cash=set(),
        initial_balance=50_000.0,
    )
    assert balances(fresh.events) == [50_250.0]
    asked: list[datetime] = []

    def stored(ts: datetime) -> float | None:
        asked.append(ts)
        return 51_000.0

    later = plan(
        rows(closed("B", -100.0, 6, 10)),
        [],
        account_id=ACC,
        stored_status={"A": "closed"},
        stored_cash=set(),
        balance_before=stored,
        initial_balance=50_000.0,
    )
    assert asked == [at(6, 10)]  # asked once, for the first new event
    assert balances(later.events) == [50_900.0]


def test_stored_trades_and_cash_are_duplicates_an_open_one_now_closed_is_updated() -> None:
    deposit = CashMovement(at(1, 8), 10_000.0, "deposit", "D1")
    result = plan(
        rows(closed("A", 500.0, 2, 14), closed("B", 80.0, 3, 10), opened("C", 4, 9)),
        [deposit],
        account_id=ACC,
        stored_status={"A": "closed", "B": "open", "C": "open"},
        stored_cash={cash_key(deposit)},
        balance_before=lambda ts: 10_500.0,
        initial_balance=10_000.0,
    )
    assert [r.trade.broker_trade_id for r in result.trades["updated"]] == ["B"]
    assert sorted(r.trade.broker_trade_id for r in result.trades["duplicate"]) == ["A", "C"]
    assert result.cash_duplicate == [deposit]
    assert balances(result.events) == [10_580.0]  # 10 500 stored + 80


def test_repeats_in_the_file() -> None:
    a = closed("A", 500.0, 2, 14)
    changed = closed("A", 499.0, 2, 14)
    result = plan(
        rows(a, a, changed, opened("D", 2, 9), closed("D", 10.0, 2, 12)),
        [],
        account_id=ACC,
        stored_status={},
        stored_cash=set(),
        initial_balance=1_000.0,
    )
    # the exact repeat is a duplicate; other values under the same id are an error at
    # row 4; D's open row is superseded by its closed row in the same file.
    assert [r.row for r in result.trades["duplicate"]] == [3, 5]
    assert [(e.row, e.where) for e in result.errors] == [(4, "trade id")]
    assert "first at row 2" in result.errors[0].reason
    assert [r.trade.broker_trade_id for r in result.trades["new"]] == ["A", "D"]
    assert balances(result.events) == [1_010.0, 1_510.0]


def test_cash_without_broker_id_is_keyed_by_its_content() -> None:
    one = CashMovement(at(1, 8), 100.0, "deposit", None, "wire")
    same = CashMovement(at(1, 8), 100.0, "deposit", None, "wire")
    other = CashMovement(at(1, 8), 100.0, "deposit", None, "card")
    assert cash_key(one) == cash_key(same) != cash_key(other)
    assert cash_key(CashMovement(at(1, 8), 1.0, "deposit", "77")) == "id:77"
