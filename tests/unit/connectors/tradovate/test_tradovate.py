"""Tradovate Performance and Position History exports, derived by hand from the files."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from connectors.statements.model import ParseContext, ParsedStatement
from connectors.tradovate.formats import TRADOVATE_CSV
from tests.unit.connectors.helpers import errors, row, sample, total_pnl, utc

FORMAT = "tradovate-csv"


def parse(filename: str, account: str = "acct-1", tz: str | None = None) -> ParsedStatement:
    ctx = ParseContext(account, ZoneInfo(tz) if tz else None, filename)
    return TRADOVATE_CSV.parse(sample(FORMAT, filename), ctx)


def test_performance_export() -> None:
    parsed = parse("performance.csv")
    assert parsed.errors == []
    # 2 March 2026 is US Central standard time (UTC-6): 08:31:05 → 14:31:05Z.
    assert [row(t) for t in parsed.trades] == [
        # long 1 MES: (5014.50 − 5010.00) × 5 = $22.50
        (
            "2101-2102",
            "MESM6",
            "long",
            1.0,
            5010.0,
            utc("2026-03-02 14:31:05"),
            5014.5,
            utc("2026-03-02 14:40:12"),
            22.5,
            0.0,
        ),
        # long 2 MES: (5016.00 − 5020.25) × 2 × 5 = −42.50, written $(42.50)
        (
            "2103-2104",
            "MESM6",
            "long",
            2.0,
            5020.25,
            utc("2026-03-02 15:05:00"),
            5016.0,
            utc("2026-03-02 15:12:30"),
            -42.5,
            0.0,
        ),
        # short: sold at 10:02:10, bought back at 10:20 → entry is the sale;
        # (18025.75 − 18010.50) × 20 = $305.00
        (
            "2106-2105",
            "NQM6",
            "short",
            1.0,
            18025.75,
            utc("2026-03-02 16:02:10"),
            18010.5,
            utc("2026-03-02 16:20:00"),
            305.0,
            0.0,
        ),
        # scale-out: one buy fill 2107 of 3 MNQ at 18000, exits 1 @ 18010 (+10 × 2 = $20)
        # and 2 @ 17995.50 (−4.5 × 2 × 2 = −$18): two trades, two ids
        (
            "2107-2108",
            "MNQM6",
            "long",
            1.0,
            18000.0,
            utc("2026-03-02 17:00:00"),
            18010.0,
            utc("2026-03-02 17:05:00"),
            20.0,
            0.0,
        ),
        (
            "2107-2109",
            "MNQM6",
            "long",
            2.0,
            18000.0,
            utc("2026-03-02 17:00:00"),
            17995.5,
            utc("2026-03-02 17:15:30"),
            -18.0,
            0.0,
        ),
        # "$1,250.00": 12.5 × 2 × 50
        (
            "2110-2111",
            "ESM6",
            "long",
            2.0,
            5000.0,
            utc("2026-03-02 18:00:00"),
            5012.5,
            utc("2026-03-02 18:30:00"),
            1250.0,
            0.0,
        ),
    ]
    # 22.50 − 42.50 + 305 + 20 − 18 + 1,250 = 1,537.00
    assert total_pnl(parsed) == 1537.0
    assert (parsed.rows_seen, parsed.skipped) == (6, 0)


def test_timezone_option() -> None:
    parsed = parse("performance.csv", tz="America/New_York")
    assert parsed.trades[0].entry_time == utc("2026-03-02 13:31:05")  # EST, UTC-5


def test_position_history_two_accounts_same_day() -> None:
    one = parse("position_history.csv", account="APEX-1001")
    two = parse("position_history.csv", account="APEX-1002")
    assert one.errors == [] and two.errors == []
    # APEX-1001: the same two MES pairs as in the Performance export, same ids
    assert [(t.broker_trade_id, t.side, t.pnl) for t in one.trades] == [
        ("2101-2102", "long", 22.5),
        ("2103-2104", "long", -42.5),
    ]
    # APEX-1002: sold 1 MES at 5012.00 (08:33), bought at 5009.75 (08:45):
    # short, 2.25 × 5 = $11.25
    assert [row(t) for t in two.trades] == [
        (
            "3102-3101",
            "MESM6",
            "short",
            1.0,
            5012.0,
            utc("2026-03-02 14:33:00"),
            5009.75,
            utc("2026-03-02 14:45:00"),
            11.25,
            0.0,
        )
    ]
    assert (one.skipped, two.skipped) == (1, 2)
    assert one.meta.currency == "USD"


def test_both_exports_of_one_day_give_the_same_ids() -> None:
    performance = {(t.broker_trade_id, t.pnl) for t in parse("performance.csv").trades}
    history = {
        (t.broker_trade_id, t.pnl) for t in parse("position_history.csv", "APEX-1001").trades
    }
    assert history <= performance


def test_several_accounts_without_a_match() -> None:
    parsed = parse("position_history.csv", account="someone-else")
    assert parsed.trades == [] and errors(parsed) == [(None, "Account")]
    assert "APEX-1001, APEX-1002" in parsed.errors[0].reason


def test_bad_rows() -> None:
    parsed = parse("performance_bad_rows.csv")
    assert errors(parsed) == [
        (3, "qty"),  # 0 contracts
        (4, "pnl"),  # "USD twenty"
        (5, "boughtTimestamp"),  # ISO, not the export's MM/DD/YYYY
        (6, "buyFillId/sellFillId"),  # no buy fill id
    ]
    assert "'USD twenty'" in parsed.errors[1].reason
    assert [t.broker_trade_id for t in parsed.trades] == ["4101-4102"]


def test_missing_columns() -> None:
    parsed = TRADOVATE_CSV.parse(b"symbol,buyFillId,sellFillId,qty\nMES,1,2,1\n", ParseContext("a"))
    assert errors(parsed) == [(1, "header")]
    assert "buy_price" in parsed.errors[0].reason


def test_sniff() -> None:
    assert TRADOVATE_CSV.sniff(sample(FORMAT, "performance.csv"), "Performance.csv")
    assert TRADOVATE_CSV.sniff(sample(FORMAT, "position_history.csv"), "Position History.csv")
    assert not TRADOVATE_CSV.sniff(sample("ibkr-activity-csv", "activity_single_account.csv"), "")


def test_fills_export_paired_into_the_same_round_trips() -> None:
    parsed = parse("fills.csv")
    assert parsed.errors == []
    ms = utc("2026-03-02 14:31:05").replace(microsecond=120000)
    # _timestamp is UTC (the local Timestamp column is not needed); commission per fill.
    assert [row(t) for t in parsed.trades] == [
        # (5014.50 − 5010.00) × 1 × $5 = 22.50 − (0.62 + 0.62) = 21.26
        (
            "2101-2102",
            "MESM6",
            "long",
            1.0,
            5010.0,
            ms,
            5014.5,
            utc("2026-03-02 14:40:12").replace(microsecond=4000),
            21.26,
            -1.24,
        ),
        # −4.25 × 2 × $5 = −42.50 − 2.48 = −44.98
        (
            "2103-2104",
            "MESM6",
            "long",
            2.0,
            5020.25,
            utc("2026-03-02 15:05:00").replace(microsecond=310000),
            5016.0,
            utc("2026-03-02 15:12:30").replace(microsecond=770000),
            -44.98,
            -2.48,
        ),
        # short NQ: 15.25 × $20 = 305.00 − 4.10 = 300.90; id buy-sell as Tradovate writes it
        (
            "2106-2105",
            "NQM6",
            "short",
            1.0,
            18025.75,
            utc("2026-03-02 16:02:10").replace(microsecond=501000),
            18010.5,
            utc("2026-03-02 16:20:00").replace(microsecond=50000),
            300.9,
            -4.1,
        ),
        # scale-out of buy 2107 (3 MNQ, commission 1.86 → 0.62 per contract):
        # 10 × $2 = 20.00 − (0.62 + 0.62) = 18.76; −4.5 × 2 × $2 = −18.00 − (1.24 + 1.24)
        (
            "2107-2108",
            "MNQM6",
            "long",
            1.0,
            18000.0,
            utc("2026-03-02 17:00:00"),
            18010.0,
            utc("2026-03-02 17:05:00"),
            18.76,
            -1.24,
        ),
        (
            "2107-2109",
            "MNQM6",
            "long",
            2.0,
            18000.0,
            utc("2026-03-02 17:00:00"),
            17995.5,
            utc("2026-03-02 17:15:30"),
            -20.48,
            -2.48,
        ),
        # 12.5 × 2 × $50 = 1,250.00 − 8.20 = 1,241.80
        (
            "2110-2111",
            "ESM6",
            "long",
            2.0,
            5000.0,
            utc("2026-03-02 18:00:00"),
            5012.5,
            utc("2026-03-02 18:30:00"),
            1241.8,
            -8.2,
        ),
        # scale-in: buys 2112 (5030) and 2113 (5032), one sell 2114 of 2 at 5035: one
        # trade per pair as Tradovate pairs them; the sale's 1.24 split 0.62 + 0.62.
        # 5 × $5 = 25.00 − 1.24 = 23.76; 3 × $5 = 15.00 − 1.24 = 13.76
        (
            "2112-2114",
            "MESM6",
            "long",
            1.0,
            5030.0,
            utc("2026-03-02 19:00:00"),
            5035.0,
            utc("2026-03-02 19:10:00"),
            23.76,
            -1.24,
        ),
        (
            "2113-2114",
            "MESM6",
            "long",
            1.0,
            5032.0,
            utc("2026-03-02 19:01:00"),
            5035.0,
            utc("2026-03-02 19:10:00"),
            13.76,
            -1.24,
        ),
    ]
    # 2115 (bought 1 MES at 13:30) is still open at the end: skipped, not imported
    assert (parsed.rows_seen, parsed.skipped) == (15, 1)
    # commission counted once: the fills but the open 2115, 0.62 + 0.62 + 1.24 + 1.24 +
    # 2.05 + 2.05 + 1.86 + 0.62 + 1.24 + 4.10 + 4.10 + 0.62 + 0.62 + 1.24 = 22.22
    assert round(sum(t.commission for t in parsed.trades), 2) == -22.22


def test_fills_and_performance_exports_share_ids() -> None:
    fills = {t.broker_trade_id for t in parse("fills.csv").trades}
    performance = {t.broker_trade_id for t in parse("performance.csv").trades}
    assert performance <= fills
