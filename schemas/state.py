"""Read models of the live risk state, served by the API and printed by the CLI."""

from __future__ import annotations

from datetime import date

from schemas.events import ContractModel, RuleName, UtcDatetime


class RuleStanding(ContractModel):
    """How much of one rule's allowed loss (or count) is used, and the level reached."""

    rule: RuleName
    used: float
    limit: float
    used_percent: float
    threshold: float | None = None
    level: int


class ObjectivesProgress(ContractModel):
    """Progress towards a challenge's targets (never a breach)."""

    profit: float
    profit_target: float | None = None
    profit_progress_percent: float | None = None
    trading_days: int
    min_trading_days: int | None = None
    passed: bool


class AccountSnapshot(ContractModel):
    """The live standing of one account."""

    account_id: str
    name: str | None = None
    ruleset: str
    currency: str
    initial_balance: float
    balance: float
    equity: float
    trading_day: date | None = None
    start_of_day_balance: float
    start_of_day_equity: float
    highest_eod_balance: float
    peak_equity: float
    rules: tuple[RuleStanding, ...]
    objectives: ObjectivesProgress | None = None
    last_event_time: UtcDatetime | None = None
    events_applied: int
    duplicate_trades: int
    late_trades: int = 0
    breaches_emitted: int
