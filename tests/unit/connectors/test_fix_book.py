"""The drop-copy book: fills → open/closed trades and balance, with worked examples.

Every number is derived by hand in the test's docstring or comments.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.fix.book import DropCopyBook
from connectors.fix.parse import (
    FixMessageError,
    is_relevant,
    parse_execution_report,
    parse_utc_timestamp,
)
from connectors.fix.wire import ExecutionReport
from connectors.instruments import InstrumentError, load_instruments
from schemas import BalanceEvent, TradeEvent

TABLE = load_instruments()


def book(currency: str = "USD") -> DropCopyBook:
    return DropCopyBook("A1", currency=currency, initial_balance=100_000.0, instruments=TABLE)


def report(
    exec_id: str,
    side: str,
    qty: float,
    px: float,
    *,
    symbol: str = "ES",
    minute: int = 0,
    commission: float = 0.0,
    exec_type: str = "F",
    ref: str | None = None,
    poss_dup: bool = False,
) -> ExecutionReport:
    return ExecutionReport(
        exec_id=exec_id,
        exec_type=exec_type,
        symbol=symbol,
        side="buy" if side == "buy" else "sell",
        last_qty=qty,
        last_px=px,
        transact_time=datetime(2026, 3, 2, 14, minute, tzinfo=UTC),
        commission=commission,
        exec_ref_id=ref,
        poss_dup=poss_dup,
    )


def trades(events: tuple[TradeEvent | BalanceEvent, ...]) -> list[TradeEvent]:
    return [e for e in events if isinstance(e, TradeEvent)]


def last_balance(events: tuple[TradeEvent | BalanceEvent, ...]) -> BalanceEvent:
    found = [e for e in events if isinstance(e, BalanceEvent)]
    assert len(found) == 1
    return found[0]


def test_round_trip_es_with_commission_once_per_fill() -> None:
    """Buy 2 ES @ 5,000.00, sell 2 @ 5,010.25, 4.20 commission per fill.
    Gross 10.25 × 2 × 50 = 1,025.00; net 1,025.00 − 8.40 = 1,016.60."""
    b = book()
    opened = b.handle(report("E1", "buy", 2, 5000.00, commission=4.20))
    assert opened.kind == "new"
    [open_trade] = trades(opened.events)
    assert open_trade.status == "open"
    assert open_trade.broker_trade_id == "E1"
    assert (open_trade.side, open_trade.quantity, open_trade.entry_price) == ("long", 2, 5000.0)
    assert last_balance(opened.events).balance == 99_995.80  # 100,000 − 4.20
    assert last_balance(opened.events).equity == 99_995.80  # marked at its own price
    closed = b.handle(report("E2", "sell", 2, 5010.25, minute=5, commission=4.20))
    [close] = trades(closed.events)
    assert close.status == "closed"
    assert close.broker_trade_id == "E1"
    assert close.exit_price == 5010.25
    assert close.commission == -8.40
    assert close.pnl == 1016.60
    assert last_balance(closed.events).balance == 101_016.60
    assert last_balance(closed.events).equity == 101_016.60


def test_partial_fills_scale_in_and_scale_out_average_cost() -> None:
    """Buy 1 @ 5,000 and 1 @ 5,002: long 2 at an average 5,001.
    Sell 1 @ 5,006: realised (5,006 − 5,001) × 50 = +250, the trade stays open;
    equity = 100,250 + (5,006 − 5,001) × 1 × 50 = 100,500.
    Sell 1 @ 4,998: realised (4,998 − 5,001) × 50 = −150; the trade closes with
    2 @ 5,001 → 5,002 (the exits' average) and P&L 100 = (5,002 − 5,001) × 2 × 50."""
    b = book()
    assert trades(b.handle(report("E1", "buy", 1, 5000)).events)[0].status == "open"
    scale_in = b.handle(report("E2", "buy", 1, 5002, minute=1))
    assert trades(scale_in.events) == []
    assert last_balance(scale_in.events).equity == 100_100.0  # (5,002 − 5,001) × 2 × 50
    scale_out = b.handle(report("E3", "sell", 1, 5006, minute=2))
    assert trades(scale_out.events) == []
    assert last_balance(scale_out.events).balance == 100_250.0
    assert last_balance(scale_out.events).equity == 100_500.0
    done = b.handle(report("E4", "sell", 1, 4998, minute=3))
    [close] = trades(done.events)
    assert (close.broker_trade_id, close.quantity) == ("E1", 2)
    assert (close.entry_price, close.exit_price, close.pnl) == (5001.0, 5002.0, 100.0)
    assert last_balance(done.events).balance == 100_100.0


def test_flip_long_to_short_in_one_fill_splits_its_commission() -> None:
    """MNQ (×2), commission 0.50 per contract (CommType 1).
    Buy 3 @ 18,000 (1.50). Sell 5 @ 18,010 (2.50): 3 close the long — gross 10 × 3 × 2 = 60,
    commission 1.50 + 3/5 × 2.50 = 3.00, P&L 57.00 — and 2 open a short (id = the flip's
    ExecID) carrying the other 1.00. Buy 2 @ 18,000 (1.00): gross (18,010 − 18,000) × 2 × 2
    = 40, commission 2.00, P&L 38.00. Balance 100,000 + 57 + 38 = 100,095."""
    b = book()
    b.handle(report("B1", "buy", 3, 18000, symbol="MNQ", commission=1.50))
    flip = b.handle(report("S1", "sell", 5, 18010, symbol="MNQ", minute=1, commission=2.50))
    closed, opened = trades(flip.events)
    assert (closed.broker_trade_id, closed.status, closed.side) == ("B1", "closed", "long")
    assert (closed.quantity, closed.pnl, closed.commission) == (3, 57.0, -3.0)
    assert (opened.broker_trade_id, opened.status, opened.side) == ("S1", "open", "short")
    assert (opened.quantity, opened.entry_price) == (2, 18010.0)
    cover = b.handle(report("B2", "buy", 2, 18000, symbol="MNQ", minute=2, commission=1.00))
    [short_close] = trades(cover.events)
    assert (short_close.broker_trade_id, short_close.pnl, short_close.commission) == (
        "S1",
        38.0,
        -2.0,
    )
    assert last_balance(cover.events).balance == 100_095.0


def test_eurusd_half_lot_loss() -> None:
    """0.5 lot EURUSD 1.0850 → 1.0800: −0.0050 × 0.5 × 100,000 = −250, 3.50 a side → −257."""
    b = book()
    b.handle(report("X1", "buy", 0.5, 1.0850, symbol="EUR/USD", commission=3.5))
    [close] = trades(b.handle(report("X2", "sell", 0.5, 1.0800, symbol="EUR/USD")).events)
    assert close.pnl == -253.5  # only the buy paid commission: −250 − 3.50
    b2 = book()
    b2.handle(report("X1", "buy", 0.5, 1.0850, symbol="EURUSD", commission=3.5))
    [close2] = trades(
        b2.handle(report("X2", "sell", 0.5, 1.0800, symbol="EURUSD", commission=3.5)).events
    )
    assert close2.pnl == -257.0


def test_possdup_resend_and_repeated_exec_id_are_not_applied_twice() -> None:
    b = book()
    b.handle(report("E1", "buy", 1, 5000))
    again = b.handle(report("E1", "buy", 1, 5000, poss_dup=True))
    assert again.kind == "duplicate"
    assert again.events == ()
    assert "PossDup" in again.notes[0]
    closed = b.handle(report("E2", "sell", 1, 5001, minute=1))
    assert trades(closed.events)[0].pnl == 50.0  # one contract, not two
    assert b.handle(report("E2", "sell", 1, 5001, minute=1)).kind == "duplicate"


def test_cancel_of_the_closing_fill_reopens_the_position() -> None:
    """Buy 1 ES @ 5,000, sell 1 @ 5,010 (+500), then the sell is cancelled (150=H, 19=E2):
    the balance goes back to 100,000 and the closed trade is reported as withdrawn."""
    b = book()
    b.handle(report("E1", "buy", 1, 5000))
    b.handle(report("E2", "sell", 1, 5010, minute=1))
    assert b.ledger.balance == 100_500.0
    cancel = b.handle(report("C1", "sell", 0, 0, exec_type="H", ref="E2", minute=2))
    assert cancel.kind == "updated"
    assert last_balance(cancel.events).balance == 100_000.0
    assert any("E1 (closed) no longer exists" in note for note in cancel.notes)
    assert "ES" in b.ledger.positions


def test_correction_changes_the_price_of_a_closing_fill() -> None:
    """The sell @ 5,010 is corrected to 5,008: P&L 500 → 400, balance 100,400."""
    b = book()
    b.handle(report("E1", "buy", 1, 5000))
    b.handle(report("E2", "sell", 1, 5010, minute=1))
    fix = b.handle(report("G1", "sell", 1, 5008, exec_type="G", ref="E2", minute=3))
    assert fix.kind == "updated"
    assert last_balance(fix.events).balance == 100_400.0
    assert any("pnl 500.0 → 400.0" in note for note in fix.notes)
    assert b.published[("E1", "closed")].pnl == 400.0


def test_correction_of_an_unknown_fill_is_an_error_and_changes_nothing() -> None:
    b = book()
    b.handle(report("E1", "buy", 1, 5000))
    with pytest.raises(FixMessageError, match="ExecRefID NOPE"):
        b.handle(report("G1", "sell", 1, 5008, exec_type="G", ref="NOPE"))
    assert b.ledger.positions["ES"].quantity == 1


def test_unknown_symbol_and_foreign_quote_currency_move_nothing() -> None:
    b = book()
    with pytest.raises(InstrumentError, match="'ZZZ' is not in the instrument table"):
        b.handle(report("E1", "buy", 1, 10, symbol="ZZZ"))
    eur = book(currency="EUR")
    with pytest.raises(InstrumentError, match="quoted in USD, the account in EUR"):
        eur.handle(report("E1", "buy", 1, 5000))
    assert b.fills == [] and eur.fills == [] and b.ledger.balance == 100_000.0
    # Not marked seen: a corrected instrument table can take the resend.
    assert "E1" not in b.seen_exec_ids


def test_state_survives_a_restart() -> None:
    b = book()
    b.handle(report("E1", "buy", 2, 5000, commission=1.0))
    b.handle(report("E2", "sell", 1, 5004, minute=1, commission=0.5))
    state = json.loads(json.dumps(b.to_state()))
    restarted = book()
    restarted.restore(state)
    assert restarted.ledger.balance == b.ledger.balance == 100_198.5  # +200 − 1.50
    assert restarted.handle(report("E2", "sell", 1, 5004, poss_dup=True)).kind == "duplicate"
    [close] = trades(restarted.handle(report("E3", "sell", 1, 5006, minute=2)).events)
    # (5,004 + 5,006)/2 = 5,005 exit; gross (5,005 − 5,000) × 2 × 50 = 500; net 498.50
    assert (close.exit_price, close.pnl) == (5005.0, 498.5)


def test_restore_refuses_another_accounts_state() -> None:
    with pytest.raises(ValueError, match="for account 'B2'"):
        book().restore({"account_id": "B2", "fills": [], "seen_exec_ids": [], "published": []})


# --- parsing tag/value fields -------------------------------------------------------------

BASE = {
    35: "8",
    17: "EX1",
    150: "F",
    39: "2",
    55: "ESZ6",
    54: "2",
    32: "3",
    31: "5012.5",
    60: "20260302-14:30:01.250",
}


def test_parse_a_fill_with_per_unit_commission() -> None:
    parsed = parse_execution_report({**BASE, 12: "0.62", 13: "1", 43: "Y"})
    assert parsed.side == "sell"
    assert parsed.commission == pytest.approx(1.86)  # 0.62 × 3 contracts
    assert parsed.transact_time == datetime(2026, 3, 2, 14, 30, 1, 250000, tzinfo=UTC)
    assert parsed.poss_dup is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({17: ""}, "tag 17 (ExecID) is missing"),
        ({32: "-1"}, "tag 32 (LastQty): '-1' must be a positive number"),
        ({31: "abc"}, "tag 31 (LastPx): 'abc' is not a number"),
        ({54: "9"}, "tag 54 (Side): '9'"),
        ({60: "2026-03-02 14:30"}, "tag 60: '2026-03-02 14:30' is not a UTCTimestamp"),
        ({150: "G"}, "tag 19 (ExecRefID) is missing"),
        ({12: "1", 13: "2"}, "tag 13 (CommType): '2' is not supported"),
    ],
)
def test_parse_errors_name_the_tag(change: dict[int, str], message: str) -> None:
    with pytest.raises(FixMessageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_execution_report({**BASE, **change})


def test_only_fills_corrections_and_cancels_are_relevant() -> None:
    assert is_relevant(BASE)
    assert is_relevant({**BASE, 150: "H"})
    assert not is_relevant({**BASE, 150: "0"})  # a new order moves nothing
    assert not is_relevant({**BASE, 150: "4"})


def test_timestamp_with_nanoseconds() -> None:
    assert parse_utc_timestamp("20260302-14:30:01.123456789", 60).microsecond == 123456


# --- the instrument table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "multiplier"),
    [("ES", 50), ("ESZ6", 50), ("MES", 5), ("MNQH27", 2), ("NQ", 20), ("CL", 1000)],
)
def test_instrument_table_multipliers(symbol: str, multiplier: float) -> None:
    assert TABLE.lookup(symbol).multiplier == multiplier


def test_instrument_table_forex_spellings() -> None:
    for spelling in ("EURUSD", "EUR/USD", "EUR_USD", "eurusd"):
        assert TABLE.lookup(spelling).multiplier == 100_000


def test_instrument_table_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "table.json"
    bad.write_text(
        json.dumps(
            {
                "instruments": [
                    {"symbol": "ES", "multiplier": 50, "quote_currency": "USD"},
                    {"symbol": "ES", "multiplier": 5, "quote_currency": "USD"},
                ]
            }
        )
    )
    with pytest.raises(InstrumentError, match="listed twice"):
        load_instruments(bad)
    bad.write_text(json.dumps({"instruments": [{"symbol": "ES", "multiplier": 0}]}))
    with pytest.raises(InstrumentError, match=r"instruments\.0\.multiplier"):
        load_instruments(bad)
    bad.write_text("{")
    with pytest.raises(InstrumentError, match="is not JSON"):
        load_instruments(bad)


def test_a_close_stamped_before_its_entry_closes_at_the_entry_time() -> None:
    """A broker clock off by a second must not lose the close: exit_time ≥ entry_time."""
    b = book()
    b.handle(report("E1", "buy", 1, 5000, minute=5))
    [close] = trades(b.handle(report("E2", "sell", 1, 5001, minute=4)).events)
    assert close.exit_time == close.entry_time == datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


def test_ids_and_symbols_the_contract_cannot_hold_are_refused() -> None:
    with pytest.raises(FixMessageError, match=r"tag 17 \(ExecID\) is longer than 128"):
        parse_execution_report({**BASE, 17: "X" * 129})
    with pytest.raises(FixMessageError, match=r"tag 55 \(Symbol\) is longer than 64"):
        parse_execution_report({**BASE, 55: "S" * 65})
    with pytest.raises(FixMessageError, match="not a UTCTimestamp"):
        parse_execution_report({**BASE, 60: "20261340-10:00:00"})  # month 13


def test_a_correction_of_a_correction_reaches_the_fill() -> None:
    """E2 sell @ 5,010 → G1 corrects it to 5,008 → G2 (19=G1) to 5,006: P&L 300."""
    b = book()
    b.handle(report("E1", "buy", 1, 5000))
    b.handle(report("E2", "sell", 1, 5010, minute=1))
    b.handle(report("G1", "sell", 1, 5008, exec_type="G", ref="E2", minute=2))
    second = b.handle(report("G2", "sell", 1, 5006, exec_type="G", ref="G1", minute=3))
    assert last_balance(second.events).balance == 100_300.0
    restarted = book()
    restarted.restore(json.loads(json.dumps(b.to_state())))
    cancel = restarted.handle(report("H1", "sell", 0, 0, exec_type="H", ref="G2", minute=4))
    assert last_balance(cancel.events).balance == 100_000.0  # the sell is gone: long again
    assert "ES" in restarted.ledger.positions
