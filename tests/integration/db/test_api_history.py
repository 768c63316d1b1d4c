"""The API's history adapter against the real PostgreSQL: the daily P&L of stored history
(a replayed batch stores its breaches once; the alerts routes are tested with the API)."""

from __future__ import annotations

from datetime import date

import pytest

from api.history import DatabaseHistory
from infra.db.pool import Pool
from infra.db.sinks import PostgresSink
from infra.rulesets import RulesetCatalog
from risk_engine import Armor
from schemas import AccountEvent, BalanceEvent, TradeEvent
from tests.unit.risk_engine.builders import account as account_event
from tests.unit.risk_engine.builders import closed_trade, tick

pytestmark = pytest.mark.integration


def _stream(account_id: str) -> list[AccountEvent | BalanceEvent | TradeEvent]:
    return [
        account_event("ftmo-2step", account_id=account_id),
        tick("2026-03-02 09:00", 100_000, account_id=account_id),
        closed_trade("T-1", "2026-03-02 09:05", "2026-03-02 09:40", -6_000, account_id=account_id),
        tick("2026-03-02 10:00", 94_000, account_id=account_id),
        closed_trade("T-2", "2026-03-03 09:05", "2026-03-03 09:40", 1_500, account_id=account_id),
        tick("2026-03-03 10:00", 95_500, account_id=account_id),
    ]


def test_breaches_stored_once_and_daily_rows_as_stored(pool: Pool, account: str) -> None:
    events = _stream(account)
    armor = Armor(RulesetCatalog())
    breaches = [b for e in events for b in armor.process(e)]
    PostgresSink(pool).write([*events, *breaches, *breaches])  # a replay stores once

    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT breach_id, rule, level, ts, value, limit_value, threshold, message, "
            "dismissed_at FROM breaches WHERE account_id = %s ORDER BY breach_id",
            (account,),
        ).fetchall()
    assert breaches  # the -6,000 day breaches FTMO's daily loss
    assert [tuple(row[:8]) for row in stored] == sorted(
        (b.breach_id, b.rule, b.level, b.ts, b.value, b.limit, b.threshold, b.message)
        for b in breaches
    )
    assert not any(row[8] for row in stored)

    history = DatabaseHistory(pool)
    days = history.daily(account, 90)
    assert [(d.day, d.net_pnl, d.trades, d.wins, d.losses) for d in days] == [
        (date(2026, 3, 2), -6_000.0, 1, 0, 1),
        (date(2026, 3, 3), 1_500.0, 1, 1, 0),
    ]
    assert history.daily(account, 1)[0].day == date(2026, 3, 3)
    assert history.daily("NO-SUCH-ACCOUNT", 90) == []
