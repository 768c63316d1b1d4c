"""Tradovate's exported records in its own words, as text.

Both exports list *pairs*: one buy fill matched with one sell fill for a quantity, as
Tradovate's own P&L pairs them. A scale-out is one buy fill in several pairs, a short
a pair whose sell came first.

- Performance (``symbol,...,buyFillId,sellFillId,qty,buyPrice,sellPrice,pnl,
  boughtTimestamp,soldTimestamp,duration``): ``pnl`` like ``$22.50`` or ``$(42.50)``;
- Position History (``Position ID,...,Account,Contract,...,Pair ID,Buy Fill ID,
  Sell Fill ID,Paired Qty,Buy Price,Sell Price,P/L,Currency,Bought Timestamp,
  Sold Timestamp``): the same pairs with the account and the position they belong to;
- Fills (``_id,...,Fill ID,...,B/S,Quantity,Price,...,commission``): the fills
  themselves, which AETHERIS pairs as Tradovate does (first in, first out).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TradovatePair:
    """One paired buy and sell fill (a row of either export)."""

    row: int
    raw: str
    account: str
    symbol: str
    buy_fill_id: str
    sell_fill_id: str
    quantity: str
    buy_price: str
    sell_price: str
    pnl: str
    bought_at: str
    sold_at: str
    currency: str


@dataclass(frozen=True, slots=True)
class TradovateFill:
    """A row of the Fills export (``_id,...,_timestamp,...,Fill ID,Order ID,Timestamp,
    Date,Account,B/S,Quantity,Price,...,Contract,Product,...,commission``): one fill,
    ``_timestamp`` in UTC, ``Timestamp`` in the platform's zone, ``B/S`` with a leading
    space, ``commission`` the fill's own."""

    row: int
    raw: str
    fill_id: str
    account: str
    contract: str
    product: str
    side: str
    quantity: str
    price: str
    utc_time: str
    local_time: str
    commission: str
