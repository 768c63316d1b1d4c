"""Interactive Brokers' statement records in IBKR's own words, as text.

Two exports:

- the Activity Statement CSV: every line is ``Section,Kind,...`` where ``Kind`` is
  ``Header`` (the column names of the lines that follow), ``Data``, ``SubTotal`` or
  ``Total``; a section may repeat its header (one per asset class). ``Trades`` rows
  carry a ``DataDiscriminator``: ``Order`` (one order, totals of its executions),
  ``Trade`` (one execution of the order above it, when the statement shows them) and
  ``ClosedLot``;
- the Flex Query XML: ``FlexQueryResponse/FlexStatements/FlexStatement`` with
  ``Trades/Trade`` (one per execution, ``levelOfDetail="EXECUTION"``; ``Order`` and
  ``Lot`` elements summarise or break them down) and
  ``CashTransactions/CashTransaction``.

Values stay text here; :mod:`connectors.ibkr.activity` and :mod:`connectors.ibkr.flex`
read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ActivityTrade:
    """A ``Trades,Data`` line of the Activity Statement."""

    row: int
    raw: str
    discriminator: str
    asset_category: str
    currency: str
    account: str
    symbol: str
    date_time: str
    quantity: str
    trade_price: str
    comm_fee: str
    realized_pl: str
    code: str


@dataclass(frozen=True, slots=True)
class ActivityCash:
    """A data line of a cash section (``Deposits & Withdrawals``, ``Fees``, ``Interest``,
    ``Dividends``, ``Withholding Tax``)."""

    row: int
    raw: str
    section: str
    currency: str
    account: str
    settle_date: str
    description: str
    amount: str


@dataclass(frozen=True, slots=True)
class FlexTrade:
    """A ``Trade`` element of a Flex Query (attribute names as IBKR spells them)."""

    row: int
    raw: str
    accountId: str  # IBKR's attribute names, as they are
    tradeID: str
    ibExecID: str
    ibOrderID: str
    symbol: str
    assetCategory: str
    currency: str
    dateTime: str
    buySell: str
    openCloseIndicator: str
    quantity: str
    tradePrice: str
    ibCommission: str
    fifoPnlRealized: str
    multiplier: str
    levelOfDetail: str
    fxRateToBase: str


@dataclass(frozen=True, slots=True)
class FlexLot:
    """A ``Lot`` element (``levelOfDetail="CLOSED_LOT"``): one opening lot the execution
    above it closed, ``tradePrice`` its cost per unit, ``openDateTime`` when it opened."""

    row: int
    raw: str
    accountId: str  # IBKR's attribute names, as they are
    symbol: str
    quantity: str
    tradePrice: str
    openDateTime: str


@dataclass(frozen=True, slots=True)
class FlexCash:
    """A ``CashTransaction`` element of a Flex Query."""

    row: int
    raw: str
    accountId: str  # IBKR's attribute names, as they are
    transactionID: str
    type: str
    dateTime: str
    amount: str
    currency: str
    description: str
    fxRateToBase: str
