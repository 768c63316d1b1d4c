"""The simulated broker's records, in its own words (MetaTrader-like: logins, tickets, lots).

Times are milliseconds since the epoch, as a broker bridge would send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class SimAccount:
    """A trading account opened on the simulated desk."""

    login: str
    plan: str  # the prop-firm plan: an AETHERIS ruleset name
    deposit: float
    currency: str
    name: str | None = None  # what the trader calls the account


@dataclass(frozen=True, slots=True)
class SimEquity:
    """An account snapshot: realised balance and equity (balance + floating profit)."""

    login: str
    time_ms: int
    balance: float
    equity: float


@dataclass(frozen=True, slots=True)
class SimDeal:
    """A position opened (no close fields) or closed (``profit`` net of commission)."""

    login: str
    ticket: int
    symbol: str
    action: Literal["buy", "sell"]
    lots: float
    open_price: float
    open_time_ms: int
    commission: float
    close_price: float | None = None
    close_time_ms: int | None = None
    profit: float | None = None


SimRecord = SimAccount | SimEquity | SimDeal
