"""Header localisation and the format registry."""

from __future__ import annotations

import pytest

from connectors.statements.headers import HeaderError, find_columns, read_header
from connectors.statements.registry import FORMAT_PATHS, FormatError, detect, get_format


def test_header_notes_and_currency_are_split_off() -> None:
    closing = read_header("Closing Time (UTC+3)")
    assert (closing.key, closing.note) == ("closing time", "UTC+3")
    net = read_header(" Net  USD ")
    assert (net.key, net.currency) == ("net", "USD")
    assert read_header("Symbol:").key == "symbol"


def test_find_columns_in_english_and_german() -> None:
    english = find_columns(["Time", "Symbol", "Volume", "Profit"], ["time", "symbol", "size"])
    assert dict(english.index) == {"time": 0, "symbol": 1, "size": 2}
    german = find_columns(["Zeit", "Symbol", "Volumen", "Gewinn"], ["time", "size", "profit"])
    assert dict(german.index) == {"time": 0, "size": 2, "profit": 3}
    assert german.get(["t", "EURUSD", "1", "5.5"], "profit") == "5.5"


def test_missing_required_columns_are_named() -> None:
    with pytest.raises(HeaderError, match=r"missing column\(s\) profit .*'Time'"):
        find_columns(["Time", "Symbol"], ["time", "profit"], required=["time", "profit"])


def test_registry_names_are_the_issue_names() -> None:
    assert set(FORMAT_PATHS) == {
        "mt4-html",
        "mt5-html",
        "mt5-xlsx",
        "ctrader-csv",
        "ibkr-activity-csv",
        "ibkr-flex-xml",
        "tradovate-csv",
        "ninjatrader-csv",
        "topstepx-csv",
        "generic-csv",
    }


def test_unknown_format_and_unrecognised_file() -> None:
    with pytest.raises(FormatError, match="unknown statement format 'mt6-html'"):
        get_format("mt6-html")
    with pytest.raises(FormatError, match="no statement format recognises it"):
        detect(b"hello, world\n1,2\n", "notes.txt")
