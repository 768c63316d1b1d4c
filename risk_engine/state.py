"""Per-account risk state: everything the rules need to judge the next event.

The state is owned by whoever calls :func:`risk_engine.apply`; ``apply`` updates it
and hands it back, so a Bytewax ``stateful_map`` can keep and snapshot it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from risk_engine.calendar import TradingDay
from schemas.events import AccountStatus, RuleName
from schemas.rulesets import Ruleset

DAILY_RULES: frozenset[RuleName] = frozenset(
    {"max_daily_loss", "max_loss_per_trade", "overtrading", "tilt"}
)
"""Rules whose budget starts afresh each trading day; the others run for the account's life."""


@dataclass(slots=True)
class AccountState:
    """The live risk state of one account."""

    account_id: str
    ruleset: Ruleset
    initial_balance: float
    currency: str
    name: str | None
    balance: float
    equity: float
    # The trading day of the latest event (None until the first tick arrives).
    day: TradingDay | None = None
    start_of_day_balance: float = 0.0
    start_of_day_equity: float = 0.0
    # Highest balance seen at a day boundary, never below the initial balance.
    highest_eod_balance: float = 0.0
    # Highest equity seen, open P&L included (intraday trailing drawdown).
    peak_equity: float = 0.0
    last_event_time: datetime | None = None
    # The highest equity at which an equity rule would fire its next level; ticks above
    # it cannot breach anything (the per-tick fast path). None means "recompute".
    equity_alert: float | None = None
    # Highest level fired per rule within the rule's current period.
    fired_levels: dict[str, int] = field(default_factory=dict)
    # Trades entered and not yet closed (their entry has been counted).
    open_trades: set[str] = field(default_factory=set)
    # Trades closed in the current trading day. Together with ``open_trades`` this is
    # all the dedup needs: a trade closed on an earlier day is late for every daily
    # rule, so the state stays bounded by open positions and one day's trades.
    closed_today: set[str] = field(default_factory=set)
    # Entry times of the trades opened in the current trading day, in arrival order.
    entries_today: list[datetime] = field(default_factory=list)
    # Consecutive losing trades closed today, their sizes, and the last loss's exit.
    loss_streak: int = 0
    loss_streak_quantity: float = 0.0
    last_loss_exit: datetime | None = None
    trading_days: set[date] = field(default_factory=set)
    events_applied: int = 0
    duplicate_trades: int = 0
    # Trade events that belong to an earlier trading day than the current one.
    late_trades: int = 0
    breaches_emitted: int = 0
    # The account's standing under its firm's rules (docs/rules.md, "Account status"):
    # when a locked account may trade again, and the rule that locked or failed it.
    # Kept last: recovery snapshots written before these fields still thaw.
    status: AccountStatus = "active"
    status_until: datetime | None = None
    status_rule: RuleName | None = None

    def start_new_day(self, day: TradingDay) -> None:
        """Roll the state over to ``day``: the balance at the boundary starts the new day."""
        balance = self.balance
        if self.day is None:
            self.start_of_day_equity = balance
        else:
            self.highest_eod_balance = max(self.highest_eod_balance, balance)
            self.start_of_day_equity = self.equity
        self.start_of_day_balance = balance
        self.day = day
        self.equity_alert = None
        fired_levels = self.fired_levels
        if fired_levels:
            for rule in DAILY_RULES:
                fired_levels.pop(rule, None)
        self.entries_today.clear()
        self.closed_today.clear()
        self.loss_streak = 0
        self.loss_streak_quantity = 0.0
        self.last_loss_exit = None
