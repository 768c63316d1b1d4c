"""The risk overview of all of a user's accounts (``GET /api/v1/risk``): each account's
equity, headroom to every rule's level 3 and open breaches, and totals per currency."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.events import AccountStatus, RuleName, UtcDatetime


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleHeadroom(_Out):
    """One rule of an account: how much is used, and what is left before level 3."""

    rule: RuleName
    level: int
    used: float
    limit: float
    used_percent: float
    headroom_breach: float | None
    """Loss (money; trades for overtrading) the account may still take before level 3."""
    breach_equity: float | None
    """The equity at which this rule reaches level 3 (equity rules only)."""


class OpenBreach(_Out):
    """A rule that reached a level in its current period (today, or the account's life)."""

    rule: RuleName
    level: int


class AccountRisk(_Out):
    account_id: str
    name: str | None
    ruleset: str
    currency: str
    reported: bool
    """False until the pipeline has published the account's first standing."""
    status: AccountStatus
    status_until: UtcDatetime | None
    balance: float | None
    equity: float | None
    last_event_time: UtcDatetime | None
    worst_level: int
    loss_to_breach: float | None
    """The smallest money headroom to level 3 over the account's loss rules: the loss
    that breaches its first rule."""
    open_breaches: tuple[OpenBreach, ...]
    rules: tuple[RuleHeadroom, ...]


class CurrencyTotals(_Out):
    currency: str
    accounts: int
    reported: int
    balance: float
    equity: float
    loss_to_breach: float
    """The sum of the reported accounts' ``loss_to_breach``."""


class RiskTotals(_Out):
    accounts: int
    reported: int
    open_breaches: int
    by_status: dict[AccountStatus, int]
    by_worst_level: dict[str, int]
    """How many accounts have each worst level, ``"0"`` to ``"3"``."""
    currencies: tuple[CurrencyTotals, ...]


class RiskOverview(_Out):
    accounts: tuple[AccountRisk, ...]
    totals: RiskTotals
