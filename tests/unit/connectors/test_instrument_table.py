"""The one instrument table: the FIX connector's multipliers and quote currencies, and the
futures point values the execution-list statement formats use, from the same rows."""

from __future__ import annotations

import pytest

from connectors.instruments import load_instruments
from connectors.statements.contracts import point_value, point_values

# Every value each of the two former tables had (the FIX table's and the statements'
# point values): the merge must keep them all.
FIX_TABLE = {
    "ES": (50.0, "USD"),
    "MES": (5.0, "USD"),
    "NQ": (20.0, "USD"),
    "MNQ": (2.0, "USD"),
    "CL": (1000.0, "USD"),
    "EURUSD": (100000.0, "USD"),
    "GBPUSD": (100000.0, "USD"),
    "AUDUSD": (100000.0, "USD"),
    "XAUUSD": (100.0, "USD"),
}
STATEMENT_POINT_VALUES = {
    "ES": 50.0,
    "MES": 5.0,
    "NQ": 20.0,
    "MNQ": 2.0,
    "YM": 5.0,
    "MYM": 0.5,
    "RTY": 50.0,
    "M2K": 5.0,
    "CL": 1000.0,
    "MCL": 100.0,
    "NG": 10000.0,
    "GC": 100.0,
    "MGC": 10.0,
    "SI": 5000.0,
    "HG": 25000.0,
    "ZB": 1000.0,
    "ZN": 1000.0,
    "ZF": 1000.0,
    "6E": 125000.0,
    "6J": 12500000.0,
    "6B": 62500.0,
}


def test_the_table_keeps_every_fix_multiplier_and_quote_currency() -> None:
    table = load_instruments()
    for symbol, (multiplier, currency) in FIX_TABLE.items():
        found = table.lookup(symbol)
        assert (found.multiplier, found.quote_currency) == (multiplier, currency), symbol


def test_the_statement_point_values_are_the_tables_futures_rows() -> None:
    assert point_values() == STATEMENT_POINT_VALUES


def test_a_futures_root_added_for_statements_is_known_to_fix_too() -> None:
    # GC came from the statements' table: the drop-copy connector now prices it as well.
    gold = load_instruments().lookup("GCJ6")
    assert (gold.symbol, gold.multiplier, gold.quote_currency) == ("GC", 100.0, "USD")


def test_a_spot_symbol_has_no_futures_point_value() -> None:
    # EURUSD is priced per standard lot for FIX; an execution list's EURUSD is not a
    # future, so it stays unknown there (reported, never priced at 100,000 a point).
    with pytest.raises(KeyError, match="EURUSD"):
        point_value("EURUSD")
