"""Hostile or broken files: a clear file error with its line, never an exception."""

from __future__ import annotations

import pytest

from connectors.ibkr import flex
from connectors.statements.model import ParseContext
from connectors.statements.registry import FORMATS
from tests.unit.connectors.helpers import sample

CSV_SAMPLES = {
    "ibkr-activity-csv": "activity_single_account.csv",
    "tradovate-csv": "performance.csv",
    "ninjatrader-csv": "executions.csv",
    "topstepx-csv": "trades.csv",
}


@pytest.mark.parametrize("format_name", sorted(CSV_SAMPLES))
def test_a_cell_over_the_size_limit_stops_the_file_with_its_line(format_name: str) -> None:
    good = sample(format_name, CSV_SAMPLES[format_name])
    header = good.split(b"\n", 1)[0]
    data = header + b'\nx,"' + b"A" * 200_000 + b'",1\n'
    parsed = FORMATS[format_name].parse(data, ParseContext("acct"))
    assert parsed.trades == [] and parsed.cash == []
    assert [(e.row, e.where) for e in parsed.errors] == [(2, "file")]
    assert "quote" in parsed.errors[0].reason


@pytest.mark.parametrize("format_name", sorted(CSV_SAMPLES))
def test_empty_and_binary_files_do_not_raise(format_name: str) -> None:
    fmt = FORMATS[format_name]
    for data in (b"", b"\x00\xff\xfe garbage \x00" * 50, "é,ü,\u2028".encode()):
        parsed = fmt.parse(data, ParseContext("acct"))
        assert parsed.trades == []
        assert not fmt.sniff(data, "x.csv") or data == b""


@pytest.mark.parametrize("format_name", ["ninjatrader-csv", "topstepx-csv", "tradovate-csv"])
def test_an_empty_file_of_a_headed_export_is_one_file_error(format_name: str) -> None:
    # these exports need at least their header line; the Activity Statement has none
    parsed = FORMATS[format_name].parse(b"", ParseContext("acct"))
    assert [(e.row, e.where, e.reason) for e in parsed.errors] == [
        (None, "file", "the file is empty")
    ]


@pytest.mark.parametrize(
    ("format_name", "filename", "account"),
    [
        ("ibkr-activity-csv", "activity_single_account.csv", "a"),
        ("tradovate-csv", "position_history.csv", "APEX-1001"),
        ("ninjatrader-csv", "executions_de.csv", "Sim101"),
        ("topstepx-csv", "trades_bad_rows.csv", "a"),
    ],
)
def test_bom_and_windows_line_ends_change_nothing(
    format_name: str, filename: str, account: str
) -> None:
    original = sample(format_name, filename)
    windows = b"\xef\xbb\xbf" + original.replace(b"\n", b"\r\n")
    fmt = FORMATS[format_name]
    plain_parse = fmt.parse(original, ParseContext(account))
    windows_parse = fmt.parse(windows, ParseContext(account))
    assert plain_parse.trades and windows_parse.trades == plain_parse.trades
    assert [(e.row, e.where) for e in windows_parse.errors] == [
        (e.row, e.where) for e in plain_parse.errors
    ]
    assert fmt.sniff(windows[:4096], filename)


def test_a_flex_report_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flex, "MAX_BYTES", 1024)
    parsed = FORMATS["ibkr-flex-xml"].parse(b"<FlexQueryResponse>" + b" " * 2048, ParseContext("a"))
    assert [(e.row, e.where) for e in parsed.errors] == [(None, "file")]
    assert "more than a Flex report can be" in parsed.errors[0].reason
