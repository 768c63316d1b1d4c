"""cTrader and generic CSV samples: numbers worked out by hand from the files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.ctrader.formats import CTRADER_CSV
from connectors.generic_csv.formats import GENERIC_CSV, GenericCsv
from connectors.generic_csv.wire import MappingError, load_mapping
from connectors.statements.model import ParseContext
from connectors.statements.registry import detect
from connectors.statements.timezones import resolve_timezone
from tests.unit.statements.samples import DATA, read


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_ctrader_statement() -> None:
    data = read("ctrader-csv", "statement-3012345.csv")
    assert detect(data, "statement-3012345.csv") == "ctrader-csv"
    # --timezone says Helsinki, but the headers say UTC+3: the file is trusted.
    ctx = ParseContext("CT-1", resolve_timezone("Europe/Helsinki"), "statement.csv")
    parsed = CTRADER_CSV.parse(data, ctx)
    trades = {t.broker_trade_id: t for t in parsed.trades}
    # 8101 Buy 1 Lots EURUSD: Net 244.00 (= gross 250.00 - commission 6.00);
    # 02/03/2026 10:00 at UTC+3 = 07:00 UTC.
    t = trades["8101-9001"]
    assert (t.side, t.quantity, t.pnl, t.commission) == ("long", 1.0, 244.0, -6.0)
    assert (t.entry_time, t.exit_time) == (utc(2026, 3, 2, 7), utc(2026, 3, 2, 9, 30))
    # Position 8103 closed in two parts: two trades with their own ids:
    # 3 Lots +148.50 (150.00 - 1.50) and 2 Lots -205.50 (-200.00 - 1.00 - 4.50).
    assert (trades["8103-9003"].quantity, trades["8103-9003"].pnl) == (3.0, 148.5)
    assert (trades["8103-9004"].quantity, trades["8103-9004"].pnl) == (2.0, -205.5)
    assert trades["8103-9004"].swap == -4.5
    # 8104 Sell 5 Lots NAS100, gross "1 536.11", net "1 531.11", prices "18 250.5".
    t = trades["8104-9005"]
    assert (t.side, t.quantity, t.entry_price, t.exit_price) == ("short", 5.0, 18250.5, 17943.3)
    assert t.pnl == 1531.11
    # Net sum: 244 - 53 + 148.50 - 205.50 + 1 531.11 = 1 665.11.
    assert sum(t.pnl or 0 for t in parsed.trades) == pytest.approx(1665.11)
    assert [(c.broker_id, c.amount, c.kind) for c in parsed.cash] == [
        ("T-501", 10000.0, "deposit"),
        ("T-502", -500.0, "withdrawal"),
    ]
    assert parsed.cash[1].ts == utc(2026, 3, 5, 9)
    # 8105's quantity "five Lots" is not a number: line 20.
    assert [(e.row, e.where) for e in parsed.errors] == [(20, "Deals/Closing Quantity")]
    assert parsed.rows_seen == 8  # 2 transactions + 6 deals
    assert (parsed.meta.account_number, parsed.meta.currency) == ("3012345", "USD")


def test_ctrader_without_zone_in_headers_needs_timezone() -> None:
    text = (
        "Deals\nID,Symbol,Opening Direction,Opening Time,Closing Time,Entry Price,"
        "Closing Price,Closing Quantity,Net USD\n"
        "1,EURUSD,Buy,02/03/2026 10:00:00,02/03/2026 11:00:00,1.1,1.2,1 Lots,10.00\n"
    )
    parsed = CTRADER_CSV.parse(text.encode(), ParseContext("CT-1", None, ""))
    assert parsed.trades == []
    assert "--timezone" in parsed.errors[0].reason
    with_zone = CTRADER_CSV.parse(
        text.encode(), ParseContext("CT-1", resolve_timezone("UTC+2"), "")
    )
    (trade,) = with_zone.trades
    # no closing-deal id column: the id is the position and the closing time (UTC).
    assert trade.broker_trade_id == "1@20260302T090000.000000Z"
    assert trade.exit_time == utc(2026, 3, 2, 9)


def test_generic_csv_with_contract_headers() -> None:
    data = read("generic-csv", "trades.csv")
    assert detect(data, "trades.csv") == "generic-csv"
    parsed = GENERIC_CSV.parse(data, ParseContext("TOPSTEP-1", None, "trades.csv"))
    trades = {t.broker_trade_id: t for t in parsed.trades}
    # G-1 ES long 2 @ 5000.25 -> 5004.75: 4.50 x 2 x 50 = 450 - 4.20 = 445.80 (as given).
    assert trades["G-1"].pnl == 445.80
    assert trades["G-1"].entry_time == utc(2026, 3, 2, 14, 30)  # UTC by default
    assert trades["G-2"].side == "short"
    assert trades["G-7"].pnl == 198.0  # "$198.00"
    assert (trades["G-6"].status, trades["G-6"].pnl) == ("open", None)
    # closed: 445.80 - 212.10 - 402.50 + 198.00 = 29.20
    assert sum(t.pnl or 0 for t in parsed.trades) == pytest.approx(29.20)
    assert [(e.row, e.where) for e in parsed.errors] == [(5, "side"), (6, "entry_time")]
    assert parsed.errors[0].raw.startswith("G-4,ES,sideways")
    assert parsed.rows_seen == 7


def test_generic_csv_with_a_mapping_file() -> None:
    mapping_path = DATA / "generic-csv" / "journal-mapping.toml"
    fmt = GenericCsv.from_file(mapping_path.read_text(), mapping_path.name)
    data = read("generic-csv", "journal-export.csv")
    assert fmt.sniff(data, "journal-export.csv")
    parsed = fmt.parse(data, ParseContext("J-1", None, "journal-export.csv"))
    trades = {t.broker_trade_id: t for t in parsed.trades}
    # gross P/L, so pnl = gross + commission + swap:
    # J-100: 1 337.50 - 3.00 = 1 334.50 (gross "1.337,50": dot thousands, decimal comma)
    # J-101: 150.00 - 3.50 - 1.25 = 145.25;  J-102: -200.00 - 1.40 = -201.40.
    assert trades["J-100"].pnl == pytest.approx(1334.50)
    assert trades["J-100"].entry_price == 22100.5
    assert trades["J-101"].pnl == pytest.approx(145.25)
    assert trades["J-101"].quantity == 0.5
    assert trades["J-102"].pnl == pytest.approx(-201.40)
    # Frankfurt time in March (CET, UTC+1): 09:00 -> 08:00 UTC.
    assert trades["J-100"].entry_time == utc(2026, 3, 2, 8)
    assert parsed.errors == []


def test_generic_csv_mapping_errors_say_where() -> None:
    with pytest.raises(MappingError, match=r"m.toml: format.decimal"):
        load_mapping('[format]\ndecimal = ";"\n', "m.toml")
    with pytest.raises(MappingError, match=r"columns.ticket: Extra inputs"):
        load_mapping('[columns]\nticket = "Ticket"\n', "m.toml")
    parsed = GENERIC_CSV.parse(b"a,b\n1,2\n", ParseContext("X", None, ""))
    assert parsed.errors[0].row == 1
    assert "missing column(s)" in parsed.errors[0].reason
