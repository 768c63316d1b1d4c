"""IBKR Flex Query XML: each expectation derived by hand from the sample file."""

from __future__ import annotations

from connectors.ibkr.formats import IBKR_FLEX_XML
from connectors.statements.model import ParseContext, ParsedStatement
from tests.unit.connectors.helpers import errors, row, sample, total_cash, total_pnl, utc

FORMAT = "ibkr-flex-xml"


def parse(account: str, data: bytes | None = None) -> ParsedStatement:
    body = sample(FORMAT, "flex_two_accounts.xml") if data is None else data
    return IBKR_FLEX_XML.parse(body, ParseContext(account, None, "flex.xml"))


def test_scale_out_gives_one_trade_per_exit_with_commission_counted_once() -> None:
    parsed = parse("U1111111")
    assert parsed.errors == []
    # Bought 3 MESM6 at 5010 on 6 March 09:31 New York (EST → 14:31Z), commission 1.86;
    # sold 1 at 5014 (09:40) and 2 at 5006 (09:55). The Order and Lot elements repeat
    # these executions and are not counted.
    assert [row(t) for t in parsed.trades] == [
        # 4 points × 1 × 5 = 20.00 − (0.62 own + 1/3 of 1.86 = 0.62) = 18.76
        (
            "9002",
            "MESM6",
            "long",
            1.0,
            5010.0,
            utc("2026-03-06 14:31:00"),
            5014.0,
            utc("2026-03-06 14:40:00"),
            18.76,
            -1.24,
        ),
        # −4 points × 2 × 5 = −40.00 − (1.24 own + the remaining 1.24) = −42.48
        (
            "9003",
            "MESM6",
            "long",
            2.0,
            5010.0,
            utc("2026-03-06 14:31:00"),
            5006.0,
            utc("2026-03-06 14:55:00"),
            -42.48,
            -2.48,
        ),
    ]
    # the 1.86 opening commission is split 0.62 + 1.24: 1.24 + 2.48 = 3.72 = 1.86 + 0.62 + 1.24
    assert round(sum(t.commission for t in parsed.trades), 2) == -3.72
    assert total_pnl(parsed) == -23.72
    # deposit 10,000 (a date alone: midnight EST = 05:00Z), market-data fee −10 (adjustment)
    assert [(c.ts, c.amount, c.kind, c.broker_id) for c in parsed.cash] == [
        (utc("2026-03-06 05:00:00"), 10000.0, "deposit", "7001"),
        (utc("2026-03-09 04:00:00"), -10.0, "adjustment", "7002"),
    ]
    # the SUMMARY line repeating the deposit is not counted again
    assert total_cash(parsed) == 9990.0  # balance moves by 9,990 − 23.72 = 9,966.28


def test_second_account_short_a_close_from_its_lot_and_one_without() -> None:
    parsed = parse("U2222222")
    assert [row(t) for t in parsed.trades] == [
        # SAP in EUR: bought 10 at 200 (05:00 EDT → 09:00Z, commission 3.00 EUR at
        # fxRateToBase 1.08 = 3.24 USD), sold at 210 (11:00 → 15:00Z, 3.00 EUR at 1.10 =
        # 3.30 USD). IBKR's 94.00 EUR realised (100 − 6) is 103.40 USD at the sale's rate;
        # commission 3.24 + 3.30 = 6.54 USD; prices stay in EUR.
        (
            "9106",
            "SAP",
            "long",
            10.0,
            200.0,
            utc("2026-03-09 09:00:00"),
            210.0,
            utc("2026-03-09 15:00:00"),
            103.4,
            -6.54,
        ),
        # Sold short 100 AAPL at 210 on 9 March 10:00 New York (EDT → 14:00Z), bought
        # back at 207.50 at 15:30 (19:30Z): 2.50 × 100 = 250.00 − 2.00 = 248.00.
        (
            "9102",
            "AAPL",
            "short",
            100.0,
            210.0,
            utc("2026-03-09 14:00:00"),
            207.5,
            utc("2026-03-09 19:30:00"),
            248.0,
            -2.0,
        ),
        # Sold 10 MSFT at 400 (11:00 EDT → 15:00Z), bought before the report: its Lot
        # says 10 at 390.35 (cost per share, commission in it) opened 27 February 10:00
        # EST (15:00Z). IBKR's P&L: 4,000 − 1.00 − 3,903.50 = 95.50; commission: the
        # sale's own 1.00 (the purchase's is inside the cost).
        (
            "9103",
            "MSFT",
            "long",
            10.0,
            390.35,
            utc("2026-02-27 15:00:00"),
            400.0,
            utc("2026-03-09 15:00:00"),
            95.5,
            -1.0,
        ),
    ]
    # the NVDA cover closes a short opened before the report, and no Lot says it
    assert errors(parsed) == [(26, "Trade")]
    assert "NVDA" in parsed.errors[0].reason
    assert [(c.amount, c.kind) for c in parsed.cash] == [(-2500.0, "withdrawal")]


def test_an_account_the_file_does_not_hold_is_a_file_error() -> None:
    parsed = parse("U9999999")
    assert parsed.trades == [] and errors(parsed) == [(None, "accountId")]


def test_bad_attribute_is_reported_with_its_line() -> None:
    body = sample(FORMAT, "flex_two_accounts.xml").replace(
        b'tradeID="9002" ibExecID="0000e0d5.6a1c.01.01" ibOrderID="5002" '
        b'dateTime="20260306;094000"',
        b'tradeID="9002" ibExecID="0000e0d5.6a1c.01.01" ibOrderID="5002" dateTime="06/03/26"',
    )
    parsed = parse("U1111111", body)
    assert errors(parsed) == [(9, "Trade/dateTime")]
    assert "06/03/26" in parsed.errors[0].reason
    # without that exit the 3 lots close 2 at 5006 (id 9003); one stays open
    assert [(t.broker_trade_id, t.quantity) for t in parsed.trades] == [("9003", 2.0)]


def test_entity_expansion_bomb_is_refused_before_expanding() -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<FlexQueryResponse><FlexStatements><FlexStatement accountId="&lol3;"/>'
        b"</FlexStatements></FlexQueryResponse>"
    )
    parsed = parse("U1", bomb)
    assert errors(parsed) == [(None, "file")]
    assert "DOCTYPE" in parsed.errors[0].reason


def test_external_entity_is_refused() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<FlexQueryResponse>&x;</FlexQueryResponse>"
    )
    parsed = parse("U1", body)
    assert errors(parsed) == [(None, "file")]


def test_not_xml_is_a_file_error() -> None:
    parsed = parse("U1", b"<FlexQueryResponse><FlexStatements>")
    assert errors(parsed) == [(None, "file")]
    assert "not well-formed" in parsed.errors[0].reason


def test_sniff() -> None:
    assert IBKR_FLEX_XML.sniff(sample(FORMAT, "flex_two_accounts.xml")[:4096], "f.xml")
    head = sample("ibkr-activity-csv", "activity_single_account.csv")
    assert not IBKR_FLEX_XML.sniff(head, "a.csv")


def test_a_lot_without_its_open_date_is_reported_not_guessed() -> None:
    # The MSFT sale's only Lot loses its openDateTime ("--", as IBKR writes an empty
    # field): the round trip cannot be built, the sale (line 24) is reported naming the
    # Lot's line, and the other trades of the account are kept.
    body = sample(FORMAT, "flex_two_accounts.xml").replace(
        b'openDateTime="20260227;100000"', b'openDateTime="--"'
    )
    parsed = parse("U2222222", body)
    assert [t.broker_trade_id for t in parsed.trades] == ["9106", "9102"]
    assert errors(parsed) == [(24, "Lot"), (26, "Trade")]
    assert parsed.errors[0].reason == "line 25: the Lot has no openDateTime"
