"""Invariants of the drop-copy book over random fills that end flat (Hypothesis).

The reference is the cash the fills moved, computed straight from the fills: over trades
that end flat, P&L = (sold notional − bought notional) × multiplier − every commission.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.fix.book import DropCopyBook
from connectors.fix.wire import ExecutionReport
from connectors.instruments import load_instruments
from schemas import BalanceEvent, TradeEvent

TABLE = load_instruments()
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=5),  # contracts
        st.integers(min_value=19_000, max_value=21_000),  # price in quarter points
        st.integers(min_value=0, max_value=300),  # commission in cents
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(fills)
def test_trades_that_end_flat_carry_the_cash_the_fills_moved(
    steps: list[tuple[str, int, int, int]],
) -> None:
    book = DropCopyBook("P1", currency="USD", initial_balance=100_000.0, instruments=TABLE)
    position = 0
    cash = 0.0
    commissions = 0.0
    published: list[TradeEvent] = []
    reports = []
    for side, qty, quarters, cents in steps:
        reports.append((side, qty, quarters / 4, cents / 100))
        position += qty if side == "buy" else -qty
    if position:  # close what is left, so every trade ends flat
        reports.append(("sell" if position > 0 else "buy", abs(position), 5000.0, 0.0))
    for n, (side, qty, price, commission) in enumerate(reports):
        outcome = book.handle(
            ExecutionReport(
                exec_id=f"X{n}",
                exec_type="F",
                symbol="ES",
                side="buy" if side == "buy" else "sell",
                last_qty=float(qty),
                last_px=price,
                transact_time=START + timedelta(seconds=n),
                commission=commission,
            )
        )
        published += [e for e in outcome.events if isinstance(e, TradeEvent)]
        cash += (price if side == "sell" else -price) * qty * 50
        commissions += commission

    closed = [t for t in published if t.status == "closed"]
    opened = [t for t in published if t.status == "open"]
    assert book.ledger.positions == {}
    # Every trade opened once and closed once, under the same id.
    assert Counter(t.broker_trade_id for t in opened) == Counter(t.broker_trade_id for t in closed)
    assert all(v == 1 for v in Counter(t.broker_trade_id for t in closed).values())
    # Each fill's commission counted once, all of it.
    assert abs(sum(t.commission for t in closed) + commissions) <= 0.005 * len(closed) + 1e-6
    # The trades' P&L is the cash the fills moved, and the balance moved by as much.
    pnl = sum(t.pnl or 0.0 for t in closed)
    assert abs(pnl - (cash - commissions)) <= 0.005 * len(closed) + 1e-6
    assert abs(book.ledger.balance - 100_000.0 - (cash - commissions)) < 1e-6
    assert abs(book.ledger.equity() - book.ledger.balance) < 1e-9
    # A closed trade's quantity is what it entered; its exit never precedes its entry.
    for trade in closed:
        assert trade.exit_time is not None and trade.exit_time >= trade.entry_time


@settings(max_examples=100, deadline=None)
@given(fills, st.lists(st.integers(min_value=0, max_value=29), max_size=10))
def test_resends_anywhere_change_nothing(
    steps: list[tuple[str, int, int, int]], resend_after: list[int]
) -> None:
    """The same reports, with some sent again (PossDup) later on: the same events."""
    reports = [
        ExecutionReport(
            exec_id=f"X{n}",
            exec_type="F",
            symbol="MES",
            side="buy" if side == "buy" else "sell",
            last_qty=float(qty),
            last_px=quarters / 4,
            transact_time=START + timedelta(seconds=n),
            commission=cents / 100,
        )
        for n, (side, qty, quarters, cents) in enumerate(steps)
    ]
    once = DropCopyBook("P1", currency="USD", initial_balance=50_000.0, instruments=TABLE)
    twice = DropCopyBook("P1", currency="USD", initial_balance=50_000.0, instruments=TABLE)
    events_once = [e for r in reports for e in once.handle(r).events]
    events_twice: list[TradeEvent | BalanceEvent] = []
    for n, report in enumerate(reports):
        events_twice += twice.handle(report).events
        for k in resend_after:
            if k == n:
                outcome = twice.handle(replace(reports[n // 2], poss_dup=True))
                assert outcome.kind == "duplicate"
                events_twice += outcome.events
    assert events_twice == events_once
    assert twice.ledger.balance == once.ledger.balance
