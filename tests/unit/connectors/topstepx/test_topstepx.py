"""TopstepX trades export, expectations derived by hand from the sample file."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from connectors.statements.model import ParseContext, ParsedStatement
from connectors.topstepx.formats import TOPSTEPX_CSV
from tests.unit.connectors.helpers import errors, row, sample, total_pnl, utc

FORMAT = "topstepx-csv"


def parse(filename: str, tz: str | None = None) -> ParsedStatement:
    ctx = ParseContext("topstep-50k", ZoneInfo(tz) if tz else None, filename)
    return TOPSTEPX_CSV.parse(sample(FORMAT, filename), ctx)


def test_trades_export() -> None:
    parsed = parse("trades.csv")
    assert parsed.errors == []
    # PnL is before costs; costs = Fees + Commissions, each once.
    assert [row(t) for t in parsed.trades] == [
        # 4.5 × $5 = 22.50 − (0.74 + 0.50) = 21.26; 09:31:05 −05:00 = 14:31:05Z
        (
            "1800001",
            "MESH6",
            "long",
            1.0,
            5010.0,
            utc("2026-03-02 14:31:05"),
            5014.5,
            utc("2026-03-02 14:40:12"),
            21.26,
            -1.24,
        ),
        # scale-out of one 3-lot MNQ entry, one row and one id per exit:
        # 10 × $2 = 20.00 − 1.24 = 18.76 ...
        (
            "1800002",
            "MNQH6",
            "long",
            1.0,
            18000.0,
            utc("2026-03-02 15:00:00"),
            18010.0,
            utc("2026-03-02 15:05:00"),
            18.76,
            -1.24,
        ),
        # ... and −4.5 × 2 × $2 = −18.00 − (1.48 + 1.00) = −20.48
        (
            "1800003",
            "MNQH6",
            "long",
            2.0,
            18000.0,
            utc("2026-03-02 15:00:00"),
            17995.5,
            utc("2026-03-02 15:15:30"),
            -20.48,
            -2.48,
        ),
        # short NQ: 15.25 × $20 = 305.00 − (2.80 + 1.00) = 301.20
        (
            "1800004",
            "NQH6",
            "short",
            1.0,
            18025.75,
            utc("2026-03-02 16:02:10"),
            18010.5,
            utc("2026-03-02 16:20:00"),
            301.2,
            -3.8,
        ),
        # after the US clock change the file says −04:00: 09:00 → 13:00Z;
        # −0.30 × $1,000 = −300.00 − (1.50 + 0.50) = −302.00
        (
            "1800005",
            "CLK6",
            "long",
            1.0,
            66.5,
            utc("2026-03-09 13:00:00"),
            66.2,
            utc("2026-03-09 13:30:00"),
            -302.0,
            -2.0,
        ),
    ]
    assert total_pnl(parsed) == 18.74  # 21.26 + 18.76 − 20.48 + 301.20 − 302.00


def test_offsets_in_the_file_win_over_timezone_option() -> None:
    parsed = parse("trades.csv", tz="Asia/Tokyo")
    assert parsed.trades[0].entry_time == utc("2026-03-02 14:31:05")


def test_bad_rows() -> None:
    parsed = parse("trades_bad_rows.csv")
    assert errors(parsed) == [
        (3, "Type"),  # "Flat"
        (4, "EnteredAt"),  # no offset and no --timezone
        (5, "PnL"),  # "n/a"
        (6, "Id"),  # empty
        (7, "row"),  # exit before entry: refused by the contract
    ]
    assert "--timezone" in parsed.errors[1].reason
    assert "exit_time" in parsed.errors[4].reason
    assert [t.broker_trade_id for t in parsed.trades] == ["1900001"]


def test_time_without_offset_read_in_the_given_zone() -> None:
    parsed = parse("trades_bad_rows.csv", tz="America/New_York")
    # row 4 now reads: 09:31:05 New York (EST) = 14:31:05Z
    assert (4, "EnteredAt") not in errors(parsed)
    by_id = {t.broker_trade_id: t for t in parsed.trades}
    assert by_id["1900003"].entry_time == utc("2026-03-02 14:31:05")


def test_iso_times_are_accepted() -> None:
    text = (
        "Id,ContractName,EnteredAt,ExitedAt,EntryPrice,ExitPrice,Fees,PnL,Size,Type,"
        "TradeDay,TradeDuration,Commissions\n"
        "7,MNQH6,2026-03-02T23:22:16+08:00,2026-03-02T23:27:14+08:00,18000,17993,1.44,28,2,"
        "Short,2026-03-02T00:00:00-05:00,297.9,1\n"
    )
    parsed = TOPSTEPX_CSV.parse(text.encode(), ParseContext("a"))
    assert parsed.errors == []
    # short 2 MNQ: 7 × 2 × $2 = 28.00 − 2.44 = 25.56; 23:22:16 +08:00 = 15:22:16Z
    assert [(t.side, t.entry_time, t.pnl) for t in parsed.trades] == [
        ("short", utc("2026-03-02 15:22:16"), 25.56)
    ]


def test_sniff() -> None:
    assert TOPSTEPX_CSV.sniff(sample(FORMAT, "trades.csv"), "trades.csv")
    assert not TOPSTEPX_CSV.sniff(sample("tradovate-csv", "performance.csv"), "p.csv")
    assert not TOPSTEPX_CSV.sniff(sample("ninjatrader-csv", "trades.csv"), "t.csv")
