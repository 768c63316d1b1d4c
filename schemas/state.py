"""Read models of the live risk state, served by the API and printed by the CLI."""

from __future__ import annotations

from datetime import date

from schemas.events import AccountStatus, ContractModel, RuleName, UtcDatetime


class RuleStanding(ContractModel):
    """How much of one rule's allowed loss (or count) is used, and the level reached.

    ``level`` is the highest level fired in the rule's current period. Headroom is in the
    rule's own unit (money, or a count): ``headroom_next`` is what may still be used
    before ``next_level`` fires (``None`` once level 3 has fired), ``headroom_breach``
    what may still be used before level 3. Both are 0 when the level is already reached.
    ``window_minutes`` is set when the overtrading count is of trades opened within that
    many minutes (its window limit) rather than today (its daily limit).
    """

    rule: RuleName
    used: float
    limit: float
    used_percent: float
    threshold: float | None = None
    level: int
    next_level: int | None = None
    headroom_next: float | None = None
    headroom_breach: float | None = None
    window_minutes: float | None = None


class ObjectivesProgress(ContractModel):
    """Progress towards a challenge's targets (never a breach)."""

    profit: float
    profit_target: float | None = None
    profit_progress_percent: float | None = None
    trading_days: int
    min_trading_days: int | None = None
    passed: bool


class AccountSnapshot(ContractModel):
    """The live standing of one account.

    ``status`` is the account's standing under its firm's rules (docs/rules.md):
    ``status_until`` is when a ``locked`` account may trade again, ``status_rule`` the
    rule that locked or failed it. ``seq`` numbers the standings published for the
    account (1, 2, …; 0 when not published): a reader that sees it jump knows it
    missed updates, which coalescing makes normal, and a reader that sees it fall back
    knows the numbering restarted.
    """

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
    status: AccountStatus = "active"
    status_until: UtcDatetime | None = None
    status_rule: RuleName | None = None
    seq: int = 0
