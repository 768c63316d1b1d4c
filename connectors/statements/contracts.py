"""Futures point values (currency per 1.00 of price, per contract) by root symbol.

Execution lists (NinjaTrader's Executions grid, Tradovate's Fills export) give prices,
not P&L: a closed trade's P&L is the price move × quantity × this value. Data, not code:
add a root here to support it.
"""

from __future__ import annotations

import re

_MONTH_CODE = re.compile(r"^(?P<root>[A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}$")

POINT_VALUES: dict[str, float] = {
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


def root_symbol(contract: str) -> str:
    """``MES 06-26`` (NinjaTrader) or ``MESM6`` / ``MESM26`` (CME month code) → ``MES``."""
    text = contract.strip().upper()
    if " " in text:
        return text.split(" ", 1)[0]
    match = _MONTH_CODE.match(text)
    if match and match["root"] in POINT_VALUES:
        return match["root"]
    return text


def point_value(contract: str) -> float:
    """The point value of a contract (``MES 06-26``, ``MESM6``, or a root such as ``MES``);
    ``KeyError`` naming the root when it is not in the table."""
    root = root_symbol(contract)
    if root not in POINT_VALUES:
        raise KeyError(root)
    return POINT_VALUES[root]
