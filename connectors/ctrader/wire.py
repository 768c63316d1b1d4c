"""cTrader statement rows in the platform's own terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CtraderDeal:
    """A closing deal from the Deals block: one (partial) close of a position."""

    position_id: str
    closing_deal_id: str | None
    symbol: str
    opening_direction: str  # Buy | Sell
    opening_time: datetime
    closing_time: datetime
    entry_price: float
    closing_price: float
    closing_quantity: float
    commission: float
    swap: float
    gross: float | None
    net: float | None
    comment: str = ""


@dataclass(frozen=True, slots=True)
class CtraderTransaction:
    """A row of the Transactions block: deposit, withdrawal, adjustment."""

    id: str
    time: datetime
    type: str
    amount: float
    comment: str = ""
