"""The CSV helpers' fast paths give what the full rules give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.statements.numbers import parse_amount
from connectors.statements.tables import plain, read_amount, read_lines, strptime

LAYOUTS = (
    "%m/%d/%Y %H:%M:%S",
    "%Y-%m-%d, %H:%M:%S",
    "%Y%m%d;%H%M%S",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
)


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(LAYOUTS),
)
def test_strptime_matches_the_standard_one(moment: datetime, layout: str) -> None:
    text = moment.strftime(layout)
    assert strptime(text, layout) == datetime.strptime(text, layout)  # noqa: DTZ007


@pytest.mark.parametrize(
    "text",
    ["02/30/2026 10:00:00", "13/01/2026 10:00:00", "01/01/2026 25:00:00", "1/1/26 1:00:00", ""],
)
def test_strptime_refuses_what_the_standard_one_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        datetime.strptime(text, "%m/%d/%Y %H:%M:%S")  # noqa: DTZ007
    with pytest.raises(ValueError):
        strptime(text, "%m/%d/%Y %H:%M:%S")


def test_strptime_offsets_and_the_fallback() -> None:
    assert strptime("03/02/2026 09:31:05 -05:00", "%m/%d/%Y %H:%M:%S %z") == datetime(
        2026, 3, 2, 9, 31, 5, tzinfo=timezone(timedelta(hours=-5))
    )
    assert strptime("2026-03-02 14:31:05Z", "%Y-%m-%d %H:%M:%S%z").tzinfo is UTC
    # %p is left to the standard library
    assert strptime("3/2/2026 8:31:05 PM", "%m/%d/%Y %I:%M:%S %p").hour == 20


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False))
def test_read_amount_agrees_with_parse_amount(value: object) -> None:
    text = f"{value:f}"
    assert read_amount(text) == parse_amount(text)


def test_read_amount_leaves_the_rest_to_the_full_rules() -> None:
    assert read_amount("$(41.25)") == -41.25
    assert read_amount("1,536.11") == 1536.11
    assert read_amount("5010,25", decimal=",") == 5010.25


def test_plain_keeps_every_digit() -> None:
    assert [plain(x) for x in (18025.75, 5000.0, -60.0, 0.00001, 1_000_000.0)] == [
        "18025.75",
        "5000",
        "-60",
        "0.00001",
        "1000000",
    ]


def test_read_lines_numbers_records_by_their_first_line() -> None:
    lines = read_lines('a,b\n"multi\nline",c\n\nd,e\n')
    assert [(line.number, line.cells) for line in lines] == [
        (1, ["a", "b"]),
        (2, ["multi\nline", "c"]),
        (5, ["d", "e"]),
    ]
