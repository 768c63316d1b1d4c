"""MT4 and MT5 reports: every number below is worked out by hand from the sample files.

Both samples are in broker server time "GMT+2/+3 with US DST" (New York + 7 h): GMT+2
until 8 March 2026, GMT+3 from then on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.metatrader.formats import MT4_HTML, MT5_HTML, MT5_XLSX
from connectors.statements.model import ParseContext, ParsedStatement
from connectors.statements.registry import detect
from connectors.statements.timezones import resolve_timezone
from tests.unit.statements.samples import read

SERVER = resolve_timezone("GMT+2/+3-US")
MT4_FILE = "statement-2150977.htm"
MT5_HTML_FILE = "ReportHistory-51234567.html"
MT5_XLSX_FILE = "ReportHistory-51234567.xlsx"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_mt4_statement() -> None:
    data = read("mt4-html", MT4_FILE)
    assert detect(data, MT4_FILE) == "mt4-html"
    parsed = MT4_HTML.parse(data, ParseContext("FTMO-1", SERVER, MT4_FILE))
    closed = {t.broker_trade_id: t for t in parsed.trades if t.status == "closed"}
    # 1001 buy 1.00 EURUSD: profit 500.00 + commission -7.00 + taxes 0 + swap 0 = 493.00;
    # opened 2026.03.02 10:00 server (GMT+2) = 08:00 UTC, closed 14:30 = 12:30 UTC.
    t1001 = closed["1001"]
    assert (t1001.side, t1001.quantity, t1001.symbol) == ("long", 1.0, "EURUSD")
    assert (t1001.entry_price, t1001.exit_price) == (1.08, 1.085)
    assert t1001.pnl == pytest.approx(493.00)
    assert t1001.commission == -7.0
    assert (t1001.entry_time, t1001.exit_time) == (utc(2026, 3, 2, 8), utc(2026, 3, 2, 12, 30))
    assert (t1001.stop_loss, t1001.take_profit) == (1.075, 1.09)
    assert t1001.notes == "#MyEA v2"  # the EA comment in the ticket's title
    # 1002 sell 0.50 GBPUSD: -200.00 - 3.50 - 1.20 = -204.70; its "[sl]" comment sub-row
    # is skipped and kept as the trade's notes. No take profit (0.00000 -> none).
    t1002 = closed["1002"]
    assert (t1002.side, t1002.swap) == ("short", -1.2)
    assert t1002.pnl == pytest.approx(-204.70)
    assert (t1002.notes, t1002.take_profit) == ("[sl]", None)
    # 1005 sell 2.00 XAUUSD on 10 March: server time is GMT+3 (US DST since 8 March),
    # 16:00 -> 13:00 UTC; 2 000.00 - 14.00 = 1 986.00; prices with space separators.
    t1005 = closed["1005"]
    assert t1005.pnl == pytest.approx(1986.00)
    assert (t1005.entry_price, t1005.exit_price) == (2150.0, 2140.0)
    assert t1005.entry_time == utc(2026, 3, 10, 13)
    assert set(closed) == {"1001", "1002", "1005"}
    # Open Trades: 1007 buy 0.10 EURUSD, no exit, no pnl.
    (open_trade,) = [t for t in parsed.trades if t.status == "open"]
    assert (open_trade.broker_trade_id, open_trade.pnl) == ("1007", None)
    # balance rows: deposit 10 000.00 (ticket 1000), withdrawal -1 000.00 (ticket 1004).
    assert [(c.broker_id, c.amount, c.kind) for c in parsed.cash] == [
        ("1000", 10000.0, "deposit"),
        ("1004", -1000.0, "withdrawal"),
    ]
    assert parsed.cash[0].ts == utc(2026, 3, 2, 6)
    # 1006 has the hour 25: one error on line 26; the buy-limit 1003 (cancelled) and the
    # comment sub-row are skipped; the pending sell stop 1008 is not a transaction.
    assert [(e.row, e.where) for e in parsed.errors] == [(26, "closed transactions/Open Time")]
    assert "hour must be in 0..23" in parsed.errors[0].reason
    assert parsed.skipped == 2
    assert parsed.trade_rows == [20, 21, 25, 34]
    # The statement's own balance: 10 000 + 493 - 204.70 - 1 000 + 1 986 = 11 274.30.
    assert parsed.meta.final_balance == pytest.approx(
        10000 + sum(t.pnl or 0 for t in parsed.trades) - 1000
    )
    assert (parsed.meta.account_number, parsed.meta.currency) == ("2150977", "USD")
    assert parsed.meta.account_name == "Jörg Träder"  # ISO-8859-1 decoded


def test_mt4_needs_a_timezone() -> None:
    parsed = MT4_HTML.parse(read("mt4-html", MT4_FILE), ParseContext("FTMO-1", None, ""))
    assert parsed.trades == []
    assert parsed.errors[0].row is None
    assert "--timezone" in parsed.errors[0].reason


def _check_mt5(parsed: ParsedStatement) -> None:
    trades = {t.broker_trade_id: t for t in parsed.trades}
    # Position 10, buy 0.2 EURUSD, closed in two out deals (0.1 @ 1.08300, 0.1 @ 1.08500):
    # one trade, close price 1.08400 (their volume-weighted mean, as Positions shows),
    # profit 30 + 50 = 80.00, commission -2.80 (Positions) plus fees -0.10 - 0.10 from
    # the two out deals = -3.00, swap -0.50 -> pnl 80 - 3.00 - 0.50 = 76.50.
    t10 = trades["10"]
    assert (t10.status, t10.side, t10.quantity, t10.exit_price) == ("closed", "long", 0.2, 1.084)
    assert t10.commission == pytest.approx(-3.00)
    assert t10.pnl == pytest.approx(76.50)
    assert (t10.entry_time, t10.exit_time) == (utc(2026, 2, 2, 8), utc(2026, 2, 3, 13))
    # Position 13, sell 1 USDJPY: -331.13 - 10.00 - 3.20 = -344.33.
    assert trades["13"].pnl == pytest.approx(-344.33)
    assert trades["13"].side == "short"
    # Position 15 on 9 March (GMT+3): 10:00 -> 07:00 UTC; 500.00 - 5.00 = 495.00.
    assert trades["15"].pnl == pytest.approx(495.00)
    assert trades["15"].entry_time == utc(2026, 3, 9, 7)
    # Open Positions: 17 is open.
    assert (trades["17"].status, trades["17"].pnl) == ("open", None)
    # balance deals: +50 000 deposit, -2 000 withdrawal; "abc" is an error.
    assert [(c.broker_id, c.amount, c.kind) for c in parsed.cash] == [
        ("1", 50000.0, "deposit"),
        ("7", -2000.0, "withdrawal"),
    ]
    assert [e.where for e in parsed.errors] == ["Deals/Profit"]
    assert "'abc'" in parsed.errors[0].reason
    # rows: 3 positions + 11 deals + 1 open position; the 8 buy/sell deals are counted
    # in their positions.
    assert (parsed.rows_seen, parsed.skipped) == (15, 8)
    # 50 000 + 76.50 - 344.33 - 2 000 + 495.00 = 48 227.17, the balance after deal 9.
    closed_pnl = sum(t.pnl or 0 for t in parsed.trades)
    assert 50000 + closed_pnl - 2000 == pytest.approx(48227.17)
    assert (parsed.meta.account_number, parsed.meta.currency) == ("51234567", "USD")


def test_mt5_html_utf16() -> None:
    data = read("mt5-html", MT5_HTML_FILE)
    assert data[:2] == b"\xff\xfe"
    assert detect(data, MT5_HTML_FILE) == "mt5-html"
    parsed = MT5_HTML.parse(data, ParseContext("FTMO-2", SERVER, MT5_HTML_FILE))
    _check_mt5(parsed)
    assert parsed.errors[0].row == 35
    assert parsed.trade_rows == [17, 18, 19, 39]


def test_mt5_xlsx() -> None:
    data = read("mt5-xlsx", MT5_XLSX_FILE)
    assert detect(data, MT5_XLSX_FILE) == "mt5-xlsx"
    parsed = MT5_XLSX.parse(data, ParseContext("FTMO-2", SERVER, MT5_XLSX_FILE))
    _check_mt5(parsed)
    assert parsed.errors[0].row == 22  # worksheet row


def test_mt5_xlsx_that_is_not_a_workbook() -> None:
    parsed = MT5_XLSX.parse(b"PK\x03\x04 broken", ParseContext("FTMO-2", SERVER, "x.xlsx"))
    assert parsed.errors[0].row is None
    assert "XLSX" in parsed.errors[0].reason


def test_mt4_credit_is_skipped_and_a_correction_is_an_adjustment() -> None:
    page = (
        "<html><head><title>Statement: 1</title></head><body><table>"
        "<tr><td colspan=13><b>Closed Transactions:</b></td></tr>"
        "<tr><td>Ticket</td><td>Open Time</td><td>Type</td><td>Size</td><td>Item</td>"
        "<td>Price</td><td>S / L</td><td>T / P</td><td>Close Time</td><td>Price</td>"
        "<td>Commission</td><td>Taxes</td><td>Swap</td><td>Profit</td></tr>"
        "<tr><td>1</td><td>2026.03.02 08:00</td><td>credit</td><td colspan=10>Credit in</td>"
        "<td>5 000.00</td></tr>"
        "<tr><td>2</td><td>2026.03.02 09:00</td><td>balance</td>"
        "<td colspan=10>Correction swap</td><td>-12.50</td></tr>"
        "</table></body></html>"
    )
    parsed = MT4_HTML.parse(page.encode(), ParseContext("A", SERVER, "s.htm"))
    # times without seconds are read too; 09:00 GMT+2 = 07:00 UTC
    assert [(c.broker_id, c.amount, c.kind, c.ts) for c in parsed.cash] == [
        ("2", -12.5, "adjustment", utc(2026, 3, 2, 7))
    ]
    assert (parsed.skipped, parsed.errors) == (1, [])


def test_mt5_report_with_german_section_titles() -> None:
    # The section titles come from the localisation table (connectors/statements/
    # headers.py SECTIONS); the columns are read by position, as the terminal writes
    # them in every language.
    text = read("mt5-html", MT5_HTML_FILE).decode("utf-16")
    for english, german in (
        ("<b>Open Positions</b>", "<b>Offene Positionen</b>"),
        ("<b>Positions</b>", "<b>Positionen</b>"),
        ("<b>Deals</b>", "<b>Geschäfte</b>"),
        ("<b>Orders</b>", "<b>Aufträge</b>"),
    ):
        assert english in text
        text = text.replace(english, german)
    parsed = MT5_HTML.parse(text.encode("utf-8"), ParseContext("FTMO-2", SERVER, "de.html"))
    _check_mt5(parsed)


def test_mt4_statement_saved_as_utf8_reads_the_same() -> None:
    latin1 = read("mt4-html", MT4_FILE)
    utf8 = latin1.decode("iso-8859-1").encode("utf-8")
    assert utf8 != latin1  # the account name has ö and ä
    ctx = ParseContext("FTMO-1", SERVER, MT4_FILE)
    as_latin1, as_utf8 = MT4_HTML.parse(latin1, ctx), MT4_HTML.parse(utf8, ctx)
    assert as_utf8.meta.account_name == "Jörg Träder"
    assert as_utf8.trades == as_latin1.trades
    assert as_utf8.cash == as_latin1.cash
