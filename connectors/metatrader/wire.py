"""MetaTrader's own report rows, as the terminal prints them (texts already parsed to
numbers and naive server times)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Mt4Transaction:
    """A row of MT4 "Closed Transactions" / "Open Trades" (close fields empty when open)."""

    ticket: str
    open_time: datetime
    type: str  # buy | sell | balance | credit | buy limit ... (pending orders)
    size: float
    item: str
    open_price: float
    stop_loss: float
    take_profit: float
    close_time: datetime | None
    close_price: float
    commission: float
    taxes: float
    swap: float
    profit: float
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Mt5Position:
    """A row of the MT5 "Positions" table (a whole position, partial closes included)."""

    open_time: datetime
    position: str
    symbol: str
    type: str  # buy | sell
    volume: float
    open_price: float
    stop_loss: float
    take_profit: float
    close_time: datetime | None
    close_price: float
    commission: float
    swap: float
    profit: float


@dataclass(frozen=True, slots=True)
class Mt5Deal:
    """A row of the MT5 "Deals" table."""

    time: datetime
    deal: str
    symbol: str
    type: str  # buy | sell | balance | credit | charge | correction | bonus | commission ...
    direction: str  # in | out | inout | out by | "" for balance deals
    volume: float
    price: float
    order: str
    commission: float
    fee: float
    swap: float
    profit: float
    balance: float | None
    comment: str
