"""FIFO pairing of fills: worked examples and invariants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.statements.accounts import choose_account
from connectors.statements.contracts import point_value, root_symbol
from connectors.statements.model import ParsedStatement
from connectors.statements.roundtrips import (
    Fill,
    Lot,
    Side,
    TripWording,
    add_closed_trips,
    closed_trade,
    pair_fifo,
    trip_from_lots,
)

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def fill(
    fill_id: str,
    side: Side,
    quantity: float,
    price: float,
    minute: int,
    commission: float = 0.0,
    key: str = "A|ES",
    closes: bool | None = None,
) -> Fill:
    return Fill(
        key=key,
        symbol=key.split("|")[1],
        side=side,
        quantity=quantity,
        price=price,
        ts=T0 + timedelta(minutes=minute),
        fill_id=fill_id,
        commission=commission,
        closes=closes,
    )


def test_scale_in_then_one_exit_is_one_trade_at_the_average_entry() -> None:
    # buy 1 @ 100 (comm 2.00), buy 2 @ 103 (comm 4.00), sell 3 @ 110 (comm 6.00)
    result = pair_fifo(
        [
            fill("b1", "buy", 1, 100.0, 0, -2.0),
            fill("b2", "buy", 2, 103.0, 1, -4.0),
            fill("s1", "sell", 3, 110.0, 2, -6.0),
        ]
    )
    (trip,) = result.trips
    assert trip.closing.fill_id == "s1" and trip.quantity == 3
    assert trip.entry_price == (100 + 2 * 103) / 3  # 102.0
    assert trip.entry_time == T0
    # gross (110 − 100) × 1 + (110 − 103) × 2 = 24 points; × 50 (ES) = 1,200
    assert trip.gross(50.0) == 1200.0
    assert trip.commission == -12.0
    assert result.still_open == [] and result.unmatched == []


def test_scale_out_splits_the_entry_commission_to_the_cent() -> None:
    # buy 3 @ 100 (comm 1.00): exits of 1, 1, 1 get 0.33, 0.33 and the rest 0.34
    result = pair_fifo(
        [
            fill("b", "buy", 3, 100.0, 0, -1.0),
            fill("s1", "sell", 1, 101.0, 1),
            fill("s2", "sell", 1, 102.0, 2),
            fill("s3", "sell", 1, 99.0, 3),
        ]
    )
    assert [t.commission for t in result.trips] == [-0.33, -0.33, -0.34]
    assert [t.gross(1.0) for t in result.trips] == [1.0, 2.0, -1.0]


def test_reversal_closes_then_opens_the_other_way() -> None:
    # long 1 @ 100; sell 3 @ 105 (comm 3.00): closes 1 (comm 1.00), opens 2 short (2.00);
    # buy 2 @ 101 closes the short: (105 − 101) × 2 = 8 points.
    result = pair_fifo(
        [
            fill("b1", "buy", 1, 100.0, 0),
            fill("s1", "sell", 3, 105.0, 1, -3.0),
            fill("b2", "buy", 2, 101.0, 2),
        ]
    )
    first, second = result.trips
    assert (first.side, first.quantity, first.gross(1.0), first.commission) == (
        "long",
        1,
        5.0,
        -1.0,
    )
    assert (second.side, second.quantity, second.gross(1.0), second.commission) == (
        "short",
        2,
        8.0,
        -2.0,
    )


def test_accounts_never_close_each_other() -> None:
    result = pair_fifo(
        [
            fill("a-buy", "buy", 1, 100.0, 0, key="A|ES"),
            fill("b-sell", "sell", 1, 101.0, 1, key="B|ES"),
            fill("a-sell", "sell", 1, 102.0, 2, key="A|ES"),
            fill("b-buy", "buy", 1, 99.0, 3, key="B|ES"),
        ]
    )
    assert [(t.closing.fill_id, t.pieces[0].opening.fill_id) for t in result.trips] == [
        ("a-sell", "a-buy"),
        ("b-buy", "b-sell"),
    ]


def test_a_closing_fill_without_its_opening_is_unmatched_not_opened() -> None:
    result = pair_fifo([fill("s", "sell", 2, 100.0, 0, closes=True)])
    assert result.trips == [] and result.still_open == []
    assert [(f.fill_id, q) for f, q in result.unmatched] == [("s", 2)]


def test_fills_are_paired_in_time_order_whatever_the_file_order() -> None:
    result = pair_fifo([fill("s", "sell", 1, 105.0, 5), fill("b", "buy", 1, 100.0, 1)])
    (trip,) = result.trips
    assert trip.side == "long" and trip.closing.fill_id == "s"


fills_strategy = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=1, max_value=500),  # commission in cents
        st.sampled_from(["A|ES", "B|ES", "A|NQ"]),
    ),
    max_size=30,
)


@given(fills_strategy)
def test_quantity_and_commission_are_conserved(raw: list[tuple[str, int, int, str]]) -> None:
    fills = [
        fill(f"f{i}", "buy" if side == "buy" else "sell", qty, 100.0 + i, i, -cents / 100, key)
        for i, (side, qty, cents, key) in enumerate(raw)
    ]
    result = pair_fifo(fills)
    closed = sum(t.quantity for t in result.trips)
    still_open = sum(q for _, q in result.still_open)
    # every contract is either closed twice (open + close) or still open once
    assert 2 * closed + still_open == sum(f.quantity for f in fills)
    # every cent of commission lands exactly once: in a trip or on a lot still open
    in_trips = sum(t.commission for t in result.trips)
    total = sum(f.commission for f in fills)
    assert abs(in_trips - total) < 0.005 or result.still_open


def test_choose_account() -> None:
    assert choose_account(["", ""], "x").wanted is None
    assert choose_account(["U1", "U1"], "x").takes("U1")
    two = choose_account(["U1", "U2"], "U2")
    assert two.takes("U2") and not two.takes("U1")
    none = choose_account(["U1", "U2"], "x")
    assert none.error is not None and not none.takes("U1")


def test_trip_from_the_brokers_lots() -> None:
    # sold 3 @ 110 (comm 1.50) closing lots of 1 @ 100 (day −2) and 2 @ 106 (day −1)
    closing = fill("s", "sell", 3, 110.0, 0, -1.5, closes=True)
    lots = [
        Lot(2, 106.0, T0 - timedelta(days=1)),
        Lot(1, 100.0, T0 - timedelta(days=2)),
    ]
    trip = trip_from_lots(closing, lots)
    assert trip.entry_time == T0 - timedelta(days=2)  # the oldest lot
    assert trip.entry_price == (100 + 2 * 106) / 3  # 104.0
    assert trip.gross(1.0) == 18.0  # 10 + 2 × 4
    assert trip.commission == -1.5  # the closing fill's only
    event = closed_trade(trip, account_id="A", trade_id="s", pnl=16.5)
    assert (event.side, event.quantity, event.entry_price, event.pnl) == ("long", 3, 104.0, 16.5)


def test_lots_that_do_not_add_up_are_refused() -> None:
    closing = fill("s", "sell", 3, 110.0, 0, closes=True)
    with pytest.raises(ValueError, match="add up to 2"):
        trip_from_lots(closing, [Lot(2, 100.0, T0)])


WORDING = TripWording(
    trade="Trades", lot="Trades/Lot", no_opening="closes {quantity:g} {symbol}, opened earlier"
)


def _lots_of(lines: Sequence[str]) -> list[Lot]:
    """Closed-lot lines in the test's own shape: ``quantity@price``, opened a day before T0."""
    lots = []
    for line in lines:
        quantity, _, price = line.partition("@")
        if not price:
            raise ValueError(f"{line!r}: no price")
        lots.append(Lot(float(quantity), float(price), T0 - timedelta(days=1)))
    return lots


def test_closed_trips_take_the_brokers_pnl_build_from_lots_and_report_the_rest() -> None:
    # row 1 buy 2 @ 100, row 2 sell 2 @ 105 (IBKR says +9.00 net): one trade from the file;
    # row 3 sells 1 whose opening the lots give (1 @ 90, +14.50); row 4 sells 1 with a bad
    # lot line; row 5 sells 1 with no lots at all; row 6 buys 1 that stays open.
    fills = [
        replace(fill("b", "buy", 2, 100.0, 0), row=1),
        replace(fill("s", "sell", 2, 105.0, 1, -1.0), row=2, realized=9.0),
        replace(fill("x", "sell", 1, 105.0, 2, key="A|NQ", closes=True), row=3, realized=14.5),
        replace(fill("y", "sell", 1, 105.0, 3, key="A|CL", closes=True), row=4),
        replace(fill("z", "sell", 1, 105.0, 4, key="A|GC", closes=True), row=5),
        replace(fill("o", "buy", 1, 100.0, 5, key="A|ZB"), row=6),
    ]
    parsed = ParsedStatement()
    lots = {3: ["1@90"], 4: ["1"]}
    add_closed_trips(parsed, fills, lots, _lots_of, account_id="A", wording=WORDING)
    assert [(t.broker_trade_id, t.entry_price, t.pnl) for t in parsed.trades] == [
        ("s", 100.0, 9.0),
        ("x", 90.0, 14.5),
    ]
    assert parsed.trade_rows == [2, 3]
    assert [(e.row, e.where, e.reason) for e in parsed.errors] == [
        (4, "Trades/Lot", "'1': no price"),
        (5, "Trades", "closes 1 GC, opened earlier"),
    ]
    assert parsed.skipped == 1  # the open buy


def test_closed_trips_number_a_repeated_id_only_when_asked() -> None:
    # two round trips whose closing fills carry the same id (ids built from line text)
    fills = [
        fill("b1", "buy", 1, 100.0, 0),
        replace(fill("s", "sell", 1, 101.0, 1), realized=1.0),
        fill("b2", "buy", 1, 100.0, 2),
        replace(fill("s", "sell", 1, 102.0, 3), realized=2.0),
    ]
    numbered, plain_ids = ParsedStatement(), ParsedStatement()
    add_closed_trips(
        numbered, fills, {}, _lots_of, account_id="A", wording=WORDING, number_repeats=True
    )
    add_closed_trips(plain_ids, fills, {}, _lots_of, account_id="A", wording=WORDING)
    assert [t.broker_trade_id for t in numbered.trades] == ["s", "s#2"]
    assert [t.broker_trade_id for t in plain_ids.trades] == ["s", "s"]


def test_point_values_by_contract_name() -> None:
    assert point_value("MES 06-26") == 5.0  # NinjaTrader
    assert point_value("MESM6") == 5.0  # CME month code
    assert point_value("MNQZ26") == 2.0
    assert point_value("ES") == 50.0
    assert root_symbol("6EM6") == "6E"
    with pytest.raises(KeyError, match="XYZ"):
        point_value("XYZM6")
