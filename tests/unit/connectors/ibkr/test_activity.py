"""IBKR Activity Statement CSV: each expectation derived by hand from the sample file."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from connectors.ibkr.formats import IBKR_ACTIVITY_CSV
from connectors.statements.model import ParseContext, ParsedStatement
from tests.unit.connectors.helpers import errors, row, sample, total_cash, total_pnl, utc

FORMAT = "ibkr-activity-csv"


def parse(filename: str, account: str = "acct-1", tz: str | None = None) -> ParsedStatement:
    ctx = ParseContext(account, ZoneInfo(tz) if tz else None, filename)
    return IBKR_ACTIVITY_CSV.parse(sample(FORMAT, filename), ctx)


def test_single_account_statement_gives_the_round_trips_the_broker_realised() -> None:
    parsed = parse("activity_single_account.csv")
    assert parsed.errors == []
    assert [row(t) for t in parsed.trades] == [
        # Bought 100 AAPL at 200.00 on 5 March 09:35:10 New York (EST, UTC-5 → 14:35:10Z),
        # sold 60 at 205.00 on 6 March 10:15 (15:15Z): the partial close is its own trade.
        # Commission: the sale's 0.60 + 60/100 of the purchase's 1.00 = 1.20, counted once;
        # P&L: 60 × 5.00 = 300.00 − 1.20 = 298.80, IBKR's Realized P/L.
        (
            "U7654321:AAPL:20260306T151500Z:-60@205",
            "AAPL",
            "long",
            60.0,
            200.0,
            utc("2026-03-05 14:35:10"),
            205.0,
            utc("2026-03-06 15:15:00"),
            298.80,
            -1.20,
        ),
        # Short 2 MESM6 at 5000.00 at 14:00 EST (19:00Z), bought back at 4990.25 at 15:30
        # (20:30Z): 9.75 points × 2 × 5 = 97.50 − 2 × 1.24 = 95.02.
        (
            "U7654321:MESM6:20260306T203000Z:+2@4990.25",
            "MESM6",
            "short",
            2.0,
            5000.0,
            utc("2026-03-06 19:00:00"),
            4990.25,
            utc("2026-03-06 20:30:00"),
            95.02,
            -2.48,
        ),
        # The other 40 AAPL sold at 198.50 on 9 March 11:00, after the switch to EDT
        # (UTC-4 → 15:00Z). The order line and its two execution lines say the same
        # 40 shares: counted once. −1.50 × 40 = −60.00 − (1.00 + 0.40) = −61.40.
        (
            "U7654321:AAPL:20260309T150000Z:-40@198.5",
            "AAPL",
            "long",
            40.0,
            200.0,
            utc("2026-03-05 14:35:10"),
            198.5,
            utc("2026-03-09 15:00:00"),
            -61.40,
            -1.40,
        ),
    ]
    # Account P&L 298.80 + 95.02 − 61.40 = 332.42; cash +25,000 − 1,500 − 10 (market
    # data fee) = 23,490, so the statement moves the balance by 23,822.42.
    assert total_pnl(parsed) == 332.42
    assert total_cash(parsed) == 23490.0
    assert [(c.ts, c.amount, c.kind) for c in parsed.cash] == [
        (utc("2026-03-05 05:00:00"), 25000.0, "deposit"),  # settle date, midnight EST
        (utc("2026-03-09 04:00:00"), -1500.0, "withdrawal"),  # midnight EDT
        (utc("2026-03-06 05:00:00"), -10.0, "adjustment"),  # the Fees section
    ]
    assert all(t.account_id == "acct-1" for t in parsed.trades)
    # 8 trade lines, 3 cash lines and the EUR.USD conversion looked at; skipped: the 2
    # execution lines of the 40-share order, the MSFT purchase still open at the end of
    # the statement, and the currency conversion (a Forex line, no Realized P/L).
    assert (parsed.rows_seen, parsed.skipped) == (12, 4)
    assert parsed.meta.account_number == "U7654321"
    assert parsed.meta.currency == "USD"


def test_trade_ids_are_the_same_on_a_second_parse_and_unique() -> None:
    first = [t.broker_trade_id for t in parse("activity_single_account.csv").trades]
    second = [t.broker_trade_id for t in parse("activity_single_account.csv").trades]
    assert first == second
    assert len(set(first)) == len(first)


def test_timezone_option_overrides_new_york() -> None:
    parsed = parse("activity_single_account.csv", tz="Europe/Zurich")
    # 5 March 09:35:10 in Zurich (CET, UTC+1) is 08:35:10Z.
    assert parsed.trades[0].entry_time == utc("2026-03-05 08:35:10")


def test_two_accounts_on_one_day_are_kept_apart() -> None:
    # Consolidated statement: U1111111 bought 1 MESM6 at 5010 (09:31) and sold at 5012.50
    # (09:40); U2222222 sold 1 at 5011 (09:32) and bought at 5009 (09:45). Paired across
    # accounts the 09:31 buy would close against the 09:32 sell: it must not.
    one = parse("activity_two_accounts.csv", account="U1111111")
    two = parse("activity_two_accounts.csv", account="U2222222")
    assert one.errors == [] and two.errors == []
    # U1: 2.50 × 5 = 12.50 − 1.24 = 11.26; U2: 2.00 × 5 = 10.00 − 1.24 = 8.76.
    assert [row(t) for t in one.trades] == [
        (
            "U1111111:MESM6:20260306T144000Z:-1@5012.5",
            "MESM6",
            "long",
            1.0,
            5010.0,
            utc("2026-03-06 14:31:00"),
            5012.5,
            utc("2026-03-06 14:40:00"),
            11.26,
            -1.24,
        )
    ]
    assert [row(t) for t in two.trades] == [
        (
            "U2222222:MESM6:20260306T144500Z:+1@5009",
            "MESM6",
            "short",
            1.0,
            5011.0,
            utc("2026-03-06 14:32:00"),
            5009.0,
            utc("2026-03-06 14:45:00"),
            8.76,
            -1.24,
        )
    ]
    assert total_cash(one) == 5000.0 and total_cash(two) == 7000.0
    # the other account's two trade lines and one cash line are skipped, not errors
    assert one.skipped == 3 and two.skipped == 3


def test_several_accounts_and_no_matching_account_is_a_clear_file_error() -> None:
    parsed = parse("activity_two_accounts.csv", account="my-prop-account")
    assert parsed.trades == [] and parsed.cash == []
    assert len(parsed.errors) == 1
    message = parsed.errors[0].message()
    assert "U1111111, U2222222" in message and "--account" in message


def test_bad_rows_are_reported_by_line_and_column_and_good_rows_kept() -> None:
    parsed = parse("activity_bad_rows.csv")
    assert errors(parsed) == [
        (7, "Trades/Quantity"),  # "ten"
        (8, "Trades/Date/Time"),  # 25:61:00
        (9, "Trades"),  # closes AMD bought before the statement
        (13, "Deposits & Withdrawals/Amount"),  # "lots"
        (14, "Trades/Currency"),  # SAP in EUR in a USD account: no rate on the line
        (15, "Trades/Currency"),
    ]
    assert "'ten'" in parsed.errors[0].reason
    assert "25:61:00" in parsed.errors[1].reason
    assert (
        "AMD" in parsed.errors[2].reason and "opening is not in the file" in parsed.errors[2].reason
    )
    assert parsed.errors[0].raw.startswith("Trades,Data,Order,Stocks,USD,TSLA")
    assert "Flex Query" in parsed.errors[4].reason
    # INTC: 50 × (21.00 − 20.00) = 50.00 − 2 × 1.00 = 48.00, still imported
    assert [(t.symbol, t.pnl, t.commission) for t in parsed.trades] == [("INTC", 48.0, -2.0)]


def test_missing_required_column_names_it() -> None:
    text = (
        "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity\n"
        'Trades,Data,Order,Stocks,USD,AAPL,"2026-03-05, 09:35:10",100\n'
    )
    parsed = IBKR_ACTIVITY_CSV.parse(text.encode(), ParseContext("a"))
    assert errors(parsed) == [(1, "Trades header"), (2, "Trades")]
    assert "price" in parsed.errors[0].reason
    assert "header (line 1) lacks required columns" in parsed.errors[1].reason


def test_a_trades_header_without_realized_pl_holds_only_currency_conversions() -> None:
    text = (
        "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,"
        "T. Price,,Proceeds,Comm in USD,,,MTM in USD,Code\n"
        'Trades,Data,Order,Forex,USD,EUR.USD,"2026-03-05, 10:00:00",-5000,1.085,,5425,-2,,,0,\n'
        'Trades,Data,Order,Stocks,USD,AAPL,"2026-03-05, 10:00:00",10,200,,-2000,-1,,,0,O\n'
    )
    parsed = IBKR_ACTIVITY_CSV.parse(text.encode(), ParseContext("a"))
    # the conversion is skipped; a stock line there cannot be priced: reported
    assert errors(parsed) == [(3, "Trades")]
    assert "no Realized P/L column" in parsed.errors[0].reason
    assert (parsed.rows_seen, parsed.skipped, parsed.trades) == (2, 1, [])


def test_sniff_accepts_activity_statements_only() -> None:
    head = sample(FORMAT, "activity_single_account.csv")[:4096]
    assert IBKR_ACTIVITY_CSV.sniff(head, "U7654321.csv")
    assert not IBKR_ACTIVITY_CSV.sniff(b"Id,ContractName,EnteredAt\n", "x.csv")
    assert not IBKR_ACTIVITY_CSV.sniff(sample("ibkr-flex-xml", "flex_two_accounts.xml"), "f.xml")


def test_position_opened_before_the_statement_is_built_from_its_closed_lots() -> None:
    parsed = parse("activity_closed_lots.csv")
    # April statement: sold 100 MSFT at 410.00 on 2 April 10:30 New York (EDT → 14:30Z),
    # bought in March in two lots the ClosedLot lines give: 60 at 400.01 (9 March) and
    # 40 at 405.01 (20 March), IBKR's cost per share with the purchase commission in it.
    # Entry (60 × 400.01 + 40 × 405.01) / 100 = 402.01, at the oldest lot (9 March,
    # midnight EDT = 04:00Z); P&L IBKR's 798.00 = (410 − 402.01) × 100 − 1.00.
    assert [row(t) for t in parsed.trades] == [
        (
            "U7654321:MSFT:20260402T143000Z:-100@410",
            "MSFT",
            "long",
            100.0,
            402.01,
            utc("2026-03-09 04:00:00"),
            410.0,
            utc("2026-04-02 14:30:00"),
            798.0,
            -1.0,
        )
    ]
    # AMZN: the lots say 5 shares, the order sold 10: reported, not guessed
    assert errors(parsed) == [(12, "Trades/ClosedLot")]
    assert "add up to 5" in parsed.errors[0].reason


def test_own_statement_and_consolidated_statement_give_the_same_ids() -> None:
    own = (
        "Account Information,Header,Field Name,Field Value\n"
        "Account Information,Data,Account,U1111111\n"
        "Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,"
        "T. Price,C. Price,Notional Value,Comm/Fee,Realized P/L,MTM P/L,Code\n"
        'Trades,Data,Order,Futures,USD,MESM6,"2026-03-06, 09:31:00",1,5010.00,5012.00,'
        "25050.00,-0.62,0,10.00,O\n"
        'Trades,Data,Order,Futures,USD,MESM6,"2026-03-06, 09:40:00",-1,5012.50,5012.00,'
        "-25062.50,-0.62,11.26,2.50,C\n"
    )
    alone = IBKR_ACTIVITY_CSV.parse(own.encode(), ParseContext("acct-1"))
    consolidated = parse("activity_two_accounts.csv", account="U1111111")
    assert [row(t) for t in alone.trades] == [row(t) for t in consolidated.trades]
