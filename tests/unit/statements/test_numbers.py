"""Broker number formats, each example worked by hand."""

from __future__ import annotations

import pytest

from connectors.statements.numbers import parse_amount, parse_optional_amount, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 536.11", 1536.11),  # space thousands (cTrader)
        ("1\u00a0536.11", 1536.11),  # no-break space
        ("1,536.11", 1536.11),  # comma thousands
        ("1.536,11", 1536.11),  # German: dot thousands, decimal comma
        ("1'536.11", 1536.11),  # Swiss apostrophe
        ("1’536.11", 1536.11),
        ("-41.25", -41.25),
        ("41.25-", -41.25),  # trailing minus
        ("$(41.25)", -41.25),  # Tradovate negatives
        ("(41.25)", -41.25),
        ("-$41.25", -41.25),
        ("$1,041.25", 1041.25),
        ("41.25 USD", 41.25),
        ("5 Lots", 5.0),
        ("0.10", 0.1),
        ("41,25", 41.25),  # one comma, two digits: decimal comma
        ("1,536", 1536.0),  # one comma, three digits: thousands (English first)
        ("1,234,567", 1234567.0),
        ("1.234.567", 1234567.0),  # several dots: thousands
        ("1.536", 1.536),  # one dot: a decimal point (a forex price)
        ("1 234 567,89", 1234567.89),
        ("+12", 12.0),
        ("−7.5", -7.5),  # Unicode minus
        ("0", 0.0),
    ],
)
def test_amounts(text: str, expected: float) -> None:
    assert parse_amount(text) == pytest.approx(expected, abs=1e-12)


def test_decimal_comma_hint_resolves_the_ambiguous_cases() -> None:
    assert parse_amount("1,536", decimal=",") == pytest.approx(1.536)
    assert parse_amount("1.536", decimal=",") == 1536.0


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "1,53,6", "1.2.3,4,5", "(41.25", "12 34x5", "1,5.3,1", "--"],
)
def test_bad_numbers_quote_the_text(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_amount(text)
    assert repr(text) in str(caught.value)


def test_quantity_strips_units_and_must_be_positive() -> None:
    assert parse_quantity("5 Lots") == 5.0
    assert parse_quantity("100 000") == 100000.0
    with pytest.raises(ValueError, match="positive"):
        parse_quantity("0 Lots")
    with pytest.raises(ValueError, match="positive"):
        parse_quantity("-1")


def test_optional_amount_reads_blank_as_zero() -> None:
    assert parse_optional_amount("") == 0.0
    assert parse_optional_amount(" - ") == 0.0
    assert parse_optional_amount("-3.50") == -3.5
