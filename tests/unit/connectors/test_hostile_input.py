"""Hostile or broken files: a clear file error with its line, never an exception."""

from __future__ import annotations

import pytest

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
