"""The risk overview, worked by hand: headroom to level 3, open breaches, totals kept
apart by currency."""

from __future__ import annotations

from risk_engine.exposure import MonitoredAccount, risk_overview
from schemas.state import AccountSnapshot, RuleStanding


def rule(name: str, used: float, limit: float, level: int = 0) -> RuleStanding:
    return RuleStanding(
        rule=name,  # type: ignore[arg-type]
        used=used,
        limit=limit,
        used_percent=100 * used / limit,
        threshold=None,
        level=level,
        headroom_breach=max(0.0, limit - used),
    )


def snapshot(
    account: str,
    currency: str,
    balance: float,
    equity: float,
    *rules: RuleStanding,
    status: str = "active",
) -> AccountSnapshot:
    return AccountSnapshot.model_validate(
        {
            "account_id": account,
            "ruleset": "ftmo-2step",
            "currency": currency,
            "initial_balance": 100_000.0,
            "balance": balance,
            "equity": equity,
            "start_of_day_balance": balance,
            "start_of_day_equity": balance,
            "highest_eod_balance": balance,
            "peak_equity": balance,
            "rules": rules,
            "events_applied": 1,
            "duplicate_trades": 0,
            "breaches_emitted": 0,
            "status": status,
        }
    )


def test_worked_example() -> None:
    # A1 (USD): daily loss 4,200 of 5,000 (level 2), max loss 6,000 of 10,000,
    #   overtrading 9 of 10 trades -> headroom 800 / 4,000 / 1 trade; loss to breach 800.
    # A2 (USD): locked, daily 5,000 of 5,000 (level 3) -> headroom 0.
    # B1 (EUR): 1,000 of 10,000 -> headroom 9,000.  C1: not reported yet.
    accounts = [
        MonitoredAccount(
            "A1",
            "one",
            "ftmo-2step",
            "USD",
            snapshot(
                "A1",
                "USD",
                96_000.0,
                94_000.0,
                rule("max_daily_loss", 4_200.0, 5_000.0, 2),
                rule("max_loss", 6_000.0, 10_000.0),
                rule("overtrading", 9.0, 10.0),
            ),
        ),
        MonitoredAccount(
            "A2",
            None,
            "ftmo-2step",
            "USD",
            snapshot(
                "A2",
                "USD",
                95_000.0,
                95_000.0,
                rule("max_daily_loss", 5_000.0, 5_000.0, 3),
                status="locked",
            ),
        ),
        MonitoredAccount(
            "B1",
            None,
            "ftmo-2step",
            "EUR",
            snapshot("B1", "EUR", 99_000.0, 99_000.0, rule("max_loss", 1_000.0, 10_000.0)),
        ),
        MonitoredAccount("C1", None, "ftmo-2step", "USD", None),
    ]
    overview = risk_overview(accounts)
    a1, a2, b1, c1 = overview.accounts
    assert [r.headroom_breach for r in a1.rules] == [800.0, 4_000.0, 1.0]
    assert a1.loss_to_breach == 800.0  # the overtrading count is not money
    assert a1.worst_level == 2
    assert [(b.rule, b.level) for b in a1.open_breaches] == [("max_daily_loss", 2)]
    assert (a2.status, a2.loss_to_breach, a2.worst_level) == ("locked", 0.0, 3)
    assert (c1.reported, c1.equity, c1.loss_to_breach) == (False, None, None)
    totals = overview.totals
    assert (totals.accounts, totals.reported, totals.open_breaches) == (4, 3, 2)
    assert totals.by_status == {"active": 2, "locked": 1, "failed": 0, "passed": 0}
    assert totals.by_worst_level == {"0": 1, "1": 0, "2": 1, "3": 1}
    eur, usd = totals.currencies
    assert (eur.currency, eur.accounts, eur.equity, eur.loss_to_breach) == (
        "EUR",
        1,
        99_000.0,
        9_000.0,
    )
    assert (usd.currency, usd.accounts, usd.reported) == ("USD", 3, 2)
    assert (usd.balance, usd.equity, usd.loss_to_breach) == (191_000.0, 189_000.0, 800.0)
    assert b1.loss_to_breach == 9_000.0


def test_no_accounts() -> None:
    overview = risk_overview([])
    assert overview.accounts == () and overview.totals.currencies == ()
    assert overview.totals.by_worst_level == {"0": 0, "1": 0, "2": 0, "3": 0}
