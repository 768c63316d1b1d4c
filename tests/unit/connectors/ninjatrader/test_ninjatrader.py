"""NinjaTrader 8 Executions and Trades grids, expectations derived by hand."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from connectors.ninjatrader.formats import NINJATRADER_CSV
from connectors.statements.model import ParseContext, ParsedStatement
from tests.unit.connectors.helpers import errors, row, sample, total_pnl, utc

FORMAT = "ninjatrader-csv"


def parse(filename: str, account: str, tz: str | None = None) -> ParsedStatement:
    ctx = ParseContext(account, ZoneInfo(tz) if tz else None, filename)
    return NINJATRADER_CSV.parse(sample(FORMAT, filename), ctx)


# Both grids hold the same day: 2 March 2026, US Central standard time (UTC-6).
# APEX-1001: bought 3 MES at 5010.00 (08:31:05, commission 1.86), sold 1 at 5015.00
# (08:35, 0.62) and 2 at 5004.50 (08:41:30, 1.24); shorted 1 NQ at 18025.75 (10:02:10,
# 2.05), covered at 18010.50 (10:20, 2.05). Sim101, on the same instrument in between:
# shorted 1 MES at 5008.00 (08:36, 0.62), covered at 5006.00 (08:50, 0.62).
APEX_TRADES = [
    # 5 points × 1 × $5 = 25.00 − (0.62 + 1/3 of 1.86) = 23.76
    (
        "MES 06-26",
        "long",
        1.0,
        5010.0,
        utc("2026-03-02 14:31:05"),
        5015.0,
        utc("2026-03-02 14:35:00"),
        23.76,
        -1.24,
    ),
    # −5.5 × 2 × $5 = −55.00 − (1.24 + the remaining 1.24) = −57.48
    (
        "MES 06-26",
        "long",
        2.0,
        5010.0,
        utc("2026-03-02 14:31:05"),
        5004.5,
        utc("2026-03-02 14:41:30"),
        -57.48,
        -2.48,
    ),
    # 15.25 × 1 × $20 = 305.00 − 4.10 = 300.90
    (
        "NQ 06-26",
        "short",
        1.0,
        18025.75,
        utc("2026-03-02 16:02:10"),
        18010.5,
        utc("2026-03-02 16:20:00"),
        300.9,
        -4.1,
    ),
]
SIM_TRADE = (
    # 2 × $5 = 10.00 − 1.24 = 8.76
    "MES 06-26",
    "short",
    1.0,
    5008.0,
    utc("2026-03-02 14:36:00"),
    5006.0,
    utc("2026-03-02 14:50:00"),
    8.76,
    -1.24,
)


def test_executions_grid_pairs_fills_per_account() -> None:
    apex = parse("executions.csv", "APEX-1001")
    assert apex.errors == []
    assert [row(t)[1:] for t in apex.trades] == APEX_TRADES
    # one trade per exit execution, its id the execution ID
    assert [t.broker_trade_id for t in apex.trades] == ["a1f0c9e2b2", "a1f0c9e2b3", "a1f0c9e2b5"]
    assert total_pnl(apex) == 267.18  # 23.76 − 57.48 + 300.90
    # commission counted once: 1.86 + 0.62 + 1.24 + 2.05 + 2.05 = 7.82
    assert round(sum(t.commission for t in apex.trades), 2) == -7.82
    sim = parse("executions.csv", "Sim101")
    assert [row(t)[1:] for t in sim.trades] == [SIM_TRADE]
    assert [t.broker_trade_id for t in sim.trades] == ["b2e1d0f3c2"]
    assert (apex.skipped, sim.skipped) == (2, 5)  # the other account's rows


def test_trades_grid_gives_the_same_round_trips() -> None:
    apex = parse("trades.csv", "APEX-1001")
    assert apex.errors == []
    # Profit is before commission; Commission (not also its fee breakdown) is taken once;
    # ($55.00) is −55.00. The results match the file's Cum. net profit: 23.76, −33.72, …
    assert [row(t)[1:] for t in apex.trades] == APEX_TRADES
    assert (
        apex.trades[0].broker_trade_id == "APEX-1001:MES 06-26:20260302T143105Z:20260302T143500Z:1"
    )
    sim = parse("trades.csv", "Sim101")
    assert [row(t)[1:] for t in sim.trades] == [SIM_TRADE]


def test_trade_ids_are_stable_across_parses() -> None:
    for name in ("executions.csv", "trades.csv"):
        first = [t.broker_trade_id for t in parse(name, "APEX-1001").trades]
        assert first == [t.broker_trade_id for t in parse(name, "APEX-1001").trades]
        assert len(set(first)) == len(first)


def test_german_export_through_the_header_table() -> None:
    # ';' between cells, decimal commas, day.month.year, Kaufen/Verkaufen, "0,62 €":
    # bought 1 MES at 5010.25, sold at 5012.75: 2.5 × $5 = 12.50 − 1.24 = 11.26
    parsed = parse("executions_de.csv", "Sim101")
    assert parsed.errors == []
    assert [row(t) for t in parsed.trades] == [
        (
            "de02",
            "MES 06-26",
            "long",
            1.0,
            5010.25,
            utc("2026-03-02 14:31:05"),
            5012.75,
            utc("2026-03-02 14:40:00"),
            11.26,
            -1.24,
        ),
    ]


def test_timezone_option() -> None:
    parsed = parse("executions.csv", "Sim101", tz="Europe/Berlin")
    assert parsed.trades[0].entry_time == utc("2026-03-02 07:36:00")  # CET, UTC+1


def test_bad_rows_reported_good_rows_kept() -> None:
    parsed = parse("executions_bad_rows.csv", "Sim101")
    assert errors(parsed) == [
        (3, "Action"),  # "Hold"
        (4, "Price"),  # "abc"
        (6, "Instrument"),  # XYZ has no point value: its exit is reported
        (8, "E/X"),  # an ES exit with no entry in the file
    ]
    # c1 (buy 5010.00) closed by c6 (sell 5012.00): 2 × 5 = 10 − 1.24 = 8.76
    assert [(t.broker_trade_id, t.pnl) for t in parsed.trades] == [("c6", 8.76)]


def test_several_accounts_without_a_match() -> None:
    parsed = parse("executions.csv", "nobody")
    assert parsed.trades == [] and errors(parsed) == [(None, "Account")]


def test_unknown_header_is_a_clear_error() -> None:
    parsed = NINJATRADER_CSV.parse(b"Instrument,Foo,Bar\nMES,1,2\n", ParseContext("a"))
    assert errors(parsed) == [(1, "header")]
    assert "Instrument, Foo, Bar" in parsed.errors[0].reason


def test_sniff() -> None:
    assert NINJATRADER_CSV.sniff(sample(FORMAT, "executions.csv"), "x.csv")
    assert NINJATRADER_CSV.sniff(sample(FORMAT, "trades.csv"), "x.csv")
    assert NINJATRADER_CSV.sniff(sample(FORMAT, "executions_de.csv"), "x.csv")
    assert not NINJATRADER_CSV.sniff(sample("tradovate-csv", "performance.csv"), "x.csv")


def test_day_first_english_dates_are_read_as_such() -> None:
    # en-GB export: "13/03/2026" can only be 13 March, so "02/03/2026" is 2 March, not
    # 3 February. Chicago: 2 March is CST (UTC-6), 13 March is CDT (UTC-5, after the
    # 8 March change). MES: 1 × $5 − 1.00 = 4.00, then −1 × $5 − 1.00 = −6.00.
    parsed = parse("executions_en_gb.csv", "Sim101")
    assert parsed.errors == []
    assert [(t.broker_trade_id, t.entry_time, t.pnl) for t in parsed.trades] == [
        ("gb02", utc("2026-03-02 14:31:05"), 4.0),
        ("gb04", utc("2026-03-13 13:31:05"), -6.0),
    ]


def test_month_first_when_no_date_tells() -> None:
    # executions.csv has only 3/2/2026: read as the US export it is (2 March)
    parsed = parse("executions.csv", "Sim101")
    assert parsed.trades[0].entry_time.month == 3
