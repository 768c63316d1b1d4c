"""OANDA v20 response shapes, in OANDA's field names (decimals arrive as strings).

Only the fields the connector reads are declared; OANDA adds fields over time, so the
rest are ignored rather than rejected.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class AccountSummary(Wire):
    id: str
    currency: str
    balance: str
    nav: str = Field(alias="NAV")
    unrealized_pl: str = Field(default="0", alias="unrealizedPL")
    last_transaction_id: str = Field(alias="lastTransactionID", pattern=r"^\d+$")


class AccountSummaryResponse(Wire):
    """``GET /v3/accounts/{accountID}/summary``."""

    account: AccountSummary
    last_transaction_id: str = Field(alias="lastTransactionID", pattern=r"^\d+$")


class TransactionsResponse(Wire):
    """``GET /v3/accounts/{accountID}/transactions/sinceid?id=N``: the transactions after N."""

    transactions: list[dict[str, object]]
    last_transaction_id: str = Field(alias="lastTransactionID", pattern=r"^\d+$")


class TradeOpen(Wire):
    trade_id: str = Field(alias="tradeID")
    units: str
    price: str


class TradeReduce(Wire):
    trade_id: str = Field(alias="tradeID")
    units: str
    price: str
    realized_pl: str = Field(alias="realizedPL")
    financing: str = "0"


class OrderFill(Wire):
    """An ORDER_FILL transaction: trades opened, closed and reduced by one fill."""

    id: str
    time: str
    type: str
    instrument: str
    units: str
    pl: str = "0"
    financing: str = "0"
    commission: str = "0"
    account_balance: str = Field(alias="accountBalance")
    trade_opened: TradeOpen | None = Field(default=None, alias="tradeOpened")
    trades_closed: list[TradeReduce] = Field(default_factory=list, alias="tradesClosed")
    trade_reduced: TradeReduce | None = Field(default=None, alias="tradeReduced")


class TransferFunds(Wire):
    """A TRANSFER_FUNDS transaction: a deposit (amount > 0) or a withdrawal (< 0)."""

    id: str
    time: str
    type: str
    amount: str
    account_balance: str = Field(alias="accountBalance")


class Trade(Wire):
    """``GET /v3/accounts/{accountID}/trades/{tradeID}``'s ``trade``."""

    id: str
    instrument: str
    price: str
    open_time: str = Field(alias="openTime")
    initial_units: str = Field(alias="initialUnits")


class TradeResponse(Wire):
    trade: Trade
