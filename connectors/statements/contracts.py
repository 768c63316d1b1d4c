"""Futures point values (currency per 1.00 of price, per contract) by root symbol.

Execution lists (NinjaTrader's Executions grid, Tradovate's Fills export) give prices,
not P&L: a closed trade's P&L is the price move × quantity × this value. The values are
the ``future`` rows of the one instrument table the FIX connector reads too
(``connectors/instruments.json``): add a root there to support it.
"""

from __future__ import annotations

import re
from functools import cache

from connectors.instruments import load_instruments

_MONTH_CODE = re.compile(r"^(?P<root>[A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}$")


@cache
def point_values() -> dict[str, float]:
    """Every futures root of the built-in instrument table → its point value."""
    return {
        instrument.symbol: instrument.multiplier
        for instrument in load_instruments().instruments
        if instrument.kind == "future"
    }


def root_symbol(contract: str) -> str:
    """``MES 06-26`` (NinjaTrader) or ``MESM6`` / ``MESM26`` (CME month code) → ``MES``."""
    text = contract.strip().upper()
    if " " in text:
        return text.split(" ", 1)[0]
    match = _MONTH_CODE.match(text)
    if match and match["root"] in point_values():
        return match["root"]
    return text


def point_value(contract: str) -> float:
    """The point value of a contract (``MES 06-26``, ``MESM6``, or a root such as ``MES``);
    ``KeyError`` naming the root when it is not in the table."""
    root = root_symbol(contract)
    values = point_values()
    if root not in values:
        raise KeyError(root)
    return values[root]
