"""What the API needs from the outside, as small interfaces; concrete adapters are wired in
``aetheris`` (the composition root)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from schemas import BreachEvent
from schemas.state import AccountSnapshot


class DailyRow(BaseModel):
    """One account's day in the daily P&L roll-up."""

    model_config = ConfigDict(frozen=True)

    day: date
    net_pnl: float
    trades: int
    wins: int
    losses: int
    end_balance: float | None = None
    max_intraday_drawdown: float | None = None


class StoredAlert(BaseModel):
    """A breach as stored, with its dismissal."""

    model_config = ConfigDict(frozen=True)

    breach: BreachEvent
    dismissed: bool = False


class LiveAccounts(Protocol):
    """The live standing of every monitored account."""

    def snapshots(self) -> list[AccountSnapshot]: ...

    def snapshot(self, account_id: str) -> AccountSnapshot | None: ...


class History(Protocol):
    """Stored breaches and daily roll-ups."""

    def alerts(self, account_id: str | None, limit: int) -> list[StoredAlert]: ...

    def daily(self, account_id: str, days: int) -> list[DailyRow]: ...
