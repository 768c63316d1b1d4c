"""Tradovate's exported records in its own words, as text.

Both exports list *pairs*: one buy fill matched with one sell fill for a quantity, as
Tradovate's own P&L pairs them. A scale-out is one buy fill in several pairs, a short
a pair whose sell came first.

- Performance (``symbol,...,buyFillId,sellFillId,qty,buyPrice,sellPrice,pnl,
  boughtTimestamp,soldTimestamp,duration``): ``pnl`` like ``$22.50`` or ``$(42.50)``;
- Position History (``Position ID,...,Account,Contract,...,Pair ID,Buy Fill ID,
  Sell Fill ID,Paired Qty,Buy Price,Sell Price,P/L,Currency,Bought Timestamp,
  Sold Timestamp``): the same pairs with the account and the position they belong to.
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
