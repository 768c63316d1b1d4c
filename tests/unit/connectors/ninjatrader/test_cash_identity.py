"""Property: for executions that end flat, the trades' P&L adds up to the cash the
fills moved (sales − purchases) × point value + every commission, whatever the order,
sizes, scale-ins, scale-outs, reversals and interleaved accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ninjatrader.formats import NINJATRADER_CSV
from connectors.statements.model import ParseContext

HEADER = (
    "Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,Commission,Rate,"
    "Account,Connection,\n"
)
START = datetime(2026, 3, 2, 8, 30)
POINT_VALUE = {"MES 06-26": 5.0, "NQ 06-26": 20.0}

fill = st.tuples(
    st.sampled_from(["MES 06-26", "NQ 06-26"]),
    st.sampled_from(["A-1", "B-2"]),
    st.integers(min_value=-4, max_value=4).filter(bool),  # signed contracts
    st.integers(min_value=19_000, max_value=21_000),  # price in quarter points
    st.integers(min_value=0, max_value=300),  # commission in cents
)


def render(
    fills: list[tuple[str, str, int, int, int]],
) -> tuple[str, dict[str, float], dict[str, float]]:
    """The Executions CSV of ``fills`` flattened per account and instrument at the end,
    the cash each account's fills moved, and the commission they paid."""
    rows: list[tuple[str, str, int, float, int]] = []
    position: dict[tuple[str, str], int] = {}
    for instrument, account, signed, quarters, cents in fills:
        rows.append((instrument, account, signed, quarters / 4, cents))
        position[(instrument, account)] = position.get((instrument, account), 0) + signed
    for (instrument, account), left in sorted(position.items()):
        if left:
            rows.append((instrument, account, -left, 5000.0, 62))
    expected: dict[str, float] = {}
    paid: dict[str, float] = {}
    lines = [HEADER]
    for number, (instrument, account, signed, price, cents) in enumerate(rows):
        when = START + timedelta(seconds=number)
        action = "Buy" if signed > 0 else "Sell"
        # the sign of the cash: a sale brings money in, a purchase pays it out
        cash = -signed * price * POINT_VALUE[instrument] - cents / 100
        expected[account] = expected.get(account, 0.0) + cash
        paid[account] = paid.get(account, 0.0) - cents / 100
        lines.append(
            f"{instrument},{action},{abs(signed)},{price:.2f},"
            f"{when:%m/%d/%Y %I:%M:%S %p},x{number},,-,{number},n,${cents / 100:.2f},1,"
            f"{account},Sim,\n"
        )
    return "".join(lines), expected, paid


@settings(max_examples=150, deadline=None)
@given(st.lists(fill, min_size=1, max_size=25))
def test_flat_executions_add_up_to_the_cash_they_moved(
    fills: list[tuple[str, str, int, int, int]],
) -> None:
    text, expected, paid = render(fills)
    for account, cash in expected.items():
        parsed = NINJATRADER_CSV.parse(
            text.encode(), ParseContext(account, ZoneInfo("UTC"), "property.csv")
        )
        assert parsed.errors == []
        pnl = sum(t.pnl or 0.0 for t in parsed.trades)
        # each trade's P&L is rounded to the cent: allow that much per trade
        assert abs(pnl - cash) <= 0.005 * len(parsed.trades) + 1e-6
        # every fill's commission counted exactly once (all positions end flat)
        commission = sum(t.commission for t in parsed.trades)
        assert abs(commission - paid[account]) <= 0.005 * len(parsed.trades) + 1e-6
        assert all(t.exit_time is not None and t.exit_time >= t.entry_time for t in parsed.trades)
        assert all(t.entry_time.tzinfo is UTC for t in parsed.trades)
