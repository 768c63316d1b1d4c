"""The risk overview of many accounts from their live standings (pure arithmetic)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.events import ACCOUNT_STATUSES, AccountStatus
from schemas.risk import (
    AccountRisk,
    CurrencyTotals,
    OpenBreach,
    RiskOverview,
    RiskTotals,
    RuleHeadroom,
)
from schemas.state import AccountSnapshot, RuleStanding

COUNT_RULES = frozenset({"overtrading"})
"""Rules measured in trades, not money: left out of ``loss_to_breach``."""


@dataclass(frozen=True)
class MonitoredAccount:
    """An account as stored (id, name, ruleset, currency) and its standing, if reported."""

    account_id: str
    name: str | None
    ruleset: str
    currency: str
    standing: AccountSnapshot | None


def _headroom(rule: RuleStanding) -> RuleHeadroom:
    return RuleHeadroom(
        rule=rule.rule,
        level=rule.level,
        used=rule.used,
        limit=rule.limit,
        used_percent=rule.used_percent,
        headroom_breach=rule.headroom_breach,
        breach_equity=rule.threshold,
    )


def account_risk(account: MonitoredAccount) -> AccountRisk:
    standing = account.standing
    if standing is None:
        return AccountRisk(
            account_id=account.account_id,
            name=account.name,
            ruleset=account.ruleset,
            currency=account.currency,
            reported=False,
            status="active",
            status_until=None,
            balance=None,
            equity=None,
            last_event_time=None,
            worst_level=0,
            loss_to_breach=None,
            open_breaches=(),
            rules=(),
        )
    money = [
        rule.headroom_breach
        for rule in standing.rules
        if rule.rule not in COUNT_RULES and rule.headroom_breach is not None
    ]
    return AccountRisk(
        account_id=account.account_id,
        name=account.name,
        ruleset=account.ruleset,
        currency=account.currency,
        reported=True,
        status=standing.status,
        status_until=standing.status_until,
        balance=standing.balance,
        equity=standing.equity,
        last_event_time=standing.last_event_time,
        worst_level=max((rule.level for rule in standing.rules), default=0),
        loss_to_breach=min(money) if money else None,
        open_breaches=tuple(
            OpenBreach(rule=rule.rule, level=rule.level) for rule in standing.rules if rule.level
        ),
        rules=tuple(_headroom(rule) for rule in standing.rules),
    )


def _currency_totals(currency: str, accounts: Sequence[AccountRisk]) -> CurrencyTotals:
    reported = [a for a in accounts if a.reported]
    return CurrencyTotals(
        currency=currency,
        accounts=len(accounts),
        reported=len(reported),
        balance=round(sum(a.balance or 0.0 for a in reported), 6),
        equity=round(sum(a.equity or 0.0 for a in reported), 6),
        loss_to_breach=round(sum(a.loss_to_breach or 0.0 for a in reported), 6),
    )


def risk_overview(accounts: Sequence[MonitoredAccount]) -> RiskOverview:
    """Each account's risk and the totals; money is only summed within one currency."""
    risks = tuple(account_risk(account) for account in accounts)
    statuses: Counter[AccountStatus] = Counter(a.status for a in risks if a.reported)
    levels = Counter(str(a.worst_level) for a in risks if a.reported)
    currencies = sorted({a.currency for a in risks})
    return RiskOverview(
        accounts=risks,
        totals=RiskTotals(
            accounts=len(risks),
            reported=sum(1 for a in risks if a.reported),
            open_breaches=sum(len(a.open_breaches) for a in risks),
            by_status={status: statuses.get(status, 0) for status in ACCOUNT_STATUSES},
            by_worst_level={str(level): levels.get(str(level), 0) for level in range(4)},
            currencies=tuple(
                _currency_totals(c, [a for a in risks if a.currency == c]) for c in currencies
            ),
        ),
    )
