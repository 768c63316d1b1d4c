"""NinjaTrader 8's grid rows in its own words, as text.

- Executions grid (``Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,
  Name,Commission,Rate,Account,Connection``): one row per execution;
- Trades grid (``Trade number,Instrument,Account,Strategy,Market pos.,Qty,
  Entry price,Exit price,Entry time,Exit time,Entry name,Exit name,Profit,
  Cum. net profit,Commission,Clearing Fee,Exchange Fee,IP Fee,NFA Fee,MAE,MFE,ETD,Bars``):
  one row per round trip NinjaTrader paired; ``Commission`` is the total and the fee
  columns are its breakdown.

The export writes numbers, dates and words in the computer's culture (``$1.24`` and
``3/2/2026 8:31:05 AM`` in en-US, ``0,62 €`` and ``02.03.2026 08:31:05`` in de-DE, with
``;`` between cells).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NinjaExecution:
    """A row of the Executions grid."""

    row: int
    raw: str
    instrument: str
    action: str
    quantity: str
    price: str
    time: str
    execution_id: str
    entry_exit: str
    commission: str
    account: str


@dataclass(frozen=True, slots=True)
class NinjaTrade:
    """A row of the Trades grid."""

    row: int
    raw: str
    instrument: str
    account: str
    market_position: str
    quantity: str
    entry_price: str
    exit_price: str
    entry_time: str
    exit_time: str
    profit: str
    commission: str
