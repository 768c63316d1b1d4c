"""Daily figures by each account's trading day, on both backends, as the engine counts it.

Worked examples (dates and offsets derived by hand):

- FTMO (midnight Europe/Prague). Winter, CET = UTC+1: 22:59 UTC on Wed 14 Jan 2026 is
  23:59 in Prague (day 14 Jan); 23:01 UTC is 00:01 on the 15th (day 15 Jan); 23:00:00
  UTC is exactly midnight: the new day.
- The March switch: on Sun 29 Mar 2026 Prague moves from CET (UTC+1) to CEST (UTC+2) at
  01:00 UTC. The 29th starts at 23:00 UTC on the 28th; the 30th at 22:00 UTC on the 29th.
  So 22:30 UTC on the 28th is day 28 Mar, 21:59 UTC on the 29th is day 29 Mar (23:59
  CEST) and 22:30 UTC on the 29th is day 30 Mar (00:30 CEST).
- Topstep (17:00 America/Chicago, a day labelled with the date it ends). Winter, CST =
  UTC-6: 17:00 CST is 23:00 UTC. 22:59 UTC on Tue 13 Jan is 16:59 CST: Tuesday's session
  (Mon 17:00 - Tue 17:00), day 13 Jan; 23:00 UTC exactly opens Wednesday's, day 14 Jan.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from api.history import DatabaseHistory
from infra.db.pool import Pool, connect
from infra.db.repositories import daily_pnl
from infra.db.sinks import PostgresSink, copy_ticks, upsert_accounts, upsert_trades
from infra.rulesets import RulesetCatalog
from risk_engine import Armor
from risk_engine.calendar import trading_day_of
from risk_engine.engine import apply
from risk_engine.state import AccountState
from schemas.events import AccountEvent, BalanceEvent, TradeEvent
from schemas.rulesets import builtin_rulesets

pytestmark = pytest.mark.integration


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def register(pool: Pool, account: str, ruleset: str) -> AccountEvent:
    event = AccountEvent(
        account_id=account, ruleset=ruleset, initial_balance=100_000.0, currency="USD"
    )
    with pool.connection() as conn, conn.cursor() as cur:
        upsert_accounts(cur, [event])
    return event


def closed(account: str, trade_id: str, exit_time: datetime, pnl: float) -> TradeEvent:
    return TradeEvent(
        account_id=account,
        broker_trade_id=trade_id,
        status="closed",
        symbol="EURUSD",
        side="long",
        quantity=1.0,
        entry_price=1.085,
        entry_time=exit_time - timedelta(minutes=30),
        exit_price=1.09,
        exit_time=exit_time,
        pnl=pnl,
    )


def tick(account: str, ts: datetime, balance: float, equity: float) -> BalanceEvent:
    return BalanceEvent(account_id=account, ts=ts, balance=balance, equity=equity)


def store(pool: Pool, ticks: list[BalanceEvent], trades: list[TradeEvent]) -> None:
    with pool.connection() as conn, conn.cursor() as cur:
        copy_ticks(cur, ticks)
        upsert_trades(cur, trades)


def pnl_by_day(pool: Pool, account: str, first: date, last: date) -> dict[date, Decimal]:
    with pool.connection() as conn:
        return {row.day: row.net_pnl for row in daily_pnl(conn, account, first, last)}


def view_by_day(pool: Pool, account: str) -> dict[date, Decimal]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT day, net_pnl FROM daily_account_pnl WHERE account_id = %s ORDER BY day",
            (account,),
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def engine_days(account: AccountEvent, events: list[BalanceEvent | TradeEvent]) -> list[date]:
    """The day the engine's daily-loss rule is in after each event (its own calendar)."""
    catalog = RulesetCatalog()
    state: AccountState | None = None
    state, _ = apply(state, account, catalog)
    days: list[date] = []
    for event in sorted(
        events, key=lambda e: e.ts if isinstance(e, BalanceEvent) else e.exit_time or e.entry_time
    ):
        state, _ = apply(state, event, catalog)
        assert state.day is not None
        days.append(state.day.label)
    return days


def test_ftmo_days_turn_at_midnight_prague_in_winter(pool: Pool, account: str) -> None:
    ftmo = register(pool, account, "ftmo-2step")
    trades = [
        closed(account, "T1", utc(2026, 1, 14, 22, 59), -120.0),  # 23:59 CET: the 14th
        closed(account, "T2", utc(2026, 1, 14, 23, 0), 40.0),  # 00:00 CET: the 15th
        closed(account, "T3", utc(2026, 1, 14, 23, 1), 15.5),  # 00:01 CET: the 15th
    ]
    ticks = [
        tick(account, utc(2026, 1, 14, 22, 59), 99_880.0, 99_880.0),
        tick(account, utc(2026, 1, 14, 23, 1), 99_935.5, 99_900.0),
    ]
    store(pool, ticks, trades)

    expected = {date(2026, 1, 14): Decimal("-120.0"), date(2026, 1, 15): Decimal("55.5")}
    assert pnl_by_day(pool, account, date(2026, 1, 13), date(2026, 1, 16)) == expected
    assert view_by_day(pool, account) == expected
    assert engine_days(ftmo, [*trades, *ticks]) == [
        date(2026, 1, 14),  # tick 22:59
        date(2026, 1, 14),  # T1 22:59
        date(2026, 1, 15),  # T2 23:00
        date(2026, 1, 15),  # T3 23:01 (the tick at 23:01 sorts after it: same day)
        date(2026, 1, 15),
    ]
    with pool.connection() as conn:
        winter = daily_pnl(conn, account, date(2026, 1, 14), date(2026, 1, 15))
    assert [(d.start_balance, d.end_balance) for d in winter] == [
        (99_880.0, 99_880.0),
        (99_935.5, 99_935.5),
    ]


def test_ftmo_days_across_the_march_switch(pool: Pool, account: str) -> None:
    ftmo = register(pool, account, "ftmo-2step")
    trades = [
        closed(account, "M1", utc(2026, 3, 28, 22, 30), 10.0),  # 23:30 CET: the 28th
        closed(account, "M2", utc(2026, 3, 28, 23, 0), 20.0),  # 00:00 CET: the 29th
        closed(account, "M3", utc(2026, 3, 29, 21, 59), 30.0),  # 23:59 CEST: the 29th
        closed(account, "M4", utc(2026, 3, 29, 22, 0), 40.0),  # 00:00 CEST: the 30th
        closed(account, "M5", utc(2026, 3, 29, 22, 30), 50.0),  # 00:30 CEST: the 30th
    ]
    store(pool, [], trades)

    expected = {
        date(2026, 3, 28): Decimal("10.0"),
        date(2026, 3, 29): Decimal("50.0"),
        date(2026, 3, 30): Decimal("90.0"),
    }
    assert pnl_by_day(pool, account, date(2026, 3, 27), date(2026, 3, 31)) == expected
    assert view_by_day(pool, account) == expected
    assert engine_days(ftmo, list(trades)) == [
        date(2026, 3, 28),
        date(2026, 3, 29),
        date(2026, 3, 29),
        date(2026, 3, 30),
        date(2026, 3, 30),
    ]


def test_topstep_sessions_end_at_five_pm_chicago(pool: Pool, account: str) -> None:
    topstep = register(pool, account, "topstep-50k")
    trades = [
        closed(account, "S1", utc(2026, 1, 12, 23, 30), 5.0),  # Mon 17:30 CST: Tuesday's
        closed(account, "S2", utc(2026, 1, 13, 22, 59), 7.0),  # Tue 16:59 CST: Tuesday's
        closed(account, "S3", utc(2026, 1, 13, 23, 0), 11.0),  # Tue 17:00 CST: Wednesday's
    ]
    ticks = [
        tick(account, utc(2026, 1, 13, 22, 0), 50_000.0, 50_100.0),
        tick(account, utc(2026, 1, 13, 22, 59), 50_012.0, 49_900.0),  # 200 below the peak
        tick(account, utc(2026, 1, 13, 23, 0), 50_023.0, 50_023.0),
    ]
    store(pool, ticks, trades)

    with pool.connection() as conn:
        tuesday, wednesday = daily_pnl(conn, account, date(2026, 1, 13), date(2026, 1, 14))
    assert (tuesday.day, tuesday.trades, tuesday.net_pnl) == (date(2026, 1, 13), 2, Decimal("12.0"))
    assert (tuesday.start_balance, tuesday.end_balance) == (50_000.0, 50_012.0)
    assert tuesday.max_intraday_drawdown == 200.0
    assert (wednesday.day, wednesday.trades, wednesday.net_pnl) == (
        date(2026, 1, 14),
        1,
        Decimal("11.0"),
    )
    assert wednesday.start_balance == 50_023.0
    assert engine_days(topstep, [*trades, *ticks])[-1] == date(2026, 1, 14)
    assert view_by_day(pool, account) == {
        date(2026, 1, 13): Decimal("12.0"),
        date(2026, 1, 14): Decimal("11.0"),
    }


def test_reopened_and_deleted_rows_leave_their_own_trading_days(pool: Pool, account: str) -> None:
    """Topstep, as above: S1 (23:30 UTC on 12 Jan) is Tuesday's trade, S3 (23:00 UTC on
    13 Jan) Wednesday's, the 23:00 tick Wednesday's only tick: each on a trading day other
    than its UTC day. Deleting S1 takes it out of Tuesday, reopening S3 out of Wednesday,
    deleting the tick empties Wednesday."""
    register(pool, account, "topstep-50k")
    store(
        pool,
        [
            tick(account, utc(2026, 1, 13, 22, 0), 50_000.0, 50_100.0),
            tick(account, utc(2026, 1, 13, 23, 0), 50_023.0, 50_023.0),
        ],
        [
            closed(account, "S1", utc(2026, 1, 12, 23, 30), 5.0),
            closed(account, "S2", utc(2026, 1, 13, 22, 59), 7.0),
            closed(account, "S3", utc(2026, 1, 13, 23, 0), 11.0),
        ],
    )
    tuesday, wednesday = date(2026, 1, 13), date(2026, 1, 14)
    assert pnl_by_day(pool, account, tuesday, wednesday) == {
        tuesday: Decimal("12.0"),
        wednesday: Decimal("11.0"),
    }
    with pool.connection() as conn:
        conn.execute(
            "DELETE FROM trades WHERE account_id = %s AND broker_trade_id = 'S1'", (account,)
        )
        conn.execute(
            "UPDATE trades SET status = 'open', exit_price = NULL, exit_time = NULL, pnl = NULL "
            "WHERE account_id = %s AND broker_trade_id = 'S3'",
            (account,),
        )
    with pool.connection() as conn:
        days = {row.day: row for row in daily_pnl(conn, account, tuesday, wednesday)}
    assert (days[tuesday].trades, days[tuesday].net_pnl) == (1, Decimal("7.0"))
    assert (days[wednesday].trades, days[wednesday].net_pnl) == (0, Decimal("0"))
    assert days[wednesday].start_balance == 50_023.0
    with pool.connection() as conn:
        conn.execute(
            "DELETE FROM balance_ticks WHERE account_id = %s AND ts = %s",
            (account, utc(2026, 1, 13, 23, 0)),
        )
    with pool.connection() as conn:
        days = {row.day: row for row in daily_pnl(conn, account, tuesday, wednesday)}
    assert wednesday not in days
    assert (days[tuesday].start_balance, days[tuesday].trades) == (50_000.0, 1)


def test_rows_stored_before_the_account_move_to_its_days_when_it_registers(
    pool: Pool, account: str
) -> None:
    # 23:30 UTC on 14 Jan: UTC day 14 Jan while the account is unknown, then 00:30 in
    # Prague: FTMO day 15 Jan.
    store(
        pool,
        [tick(account, utc(2026, 1, 14, 23, 30), 1_000.0, 1_000.0)],
        [closed(account, "E1", utc(2026, 1, 14, 23, 30), 9.0)],
    )
    assert pnl_by_day(pool, account, date(2026, 1, 13), date(2026, 1, 16)) == {
        date(2026, 1, 14): Decimal("9.0")
    }

    register(pool, account, "ftmo-1step")

    assert pnl_by_day(pool, account, date(2026, 1, 13), date(2026, 1, 16)) == {
        date(2026, 1, 15): Decimal("9.0")
    }
    with pool.connection() as conn:
        zone = conn.execute(
            "SELECT day_zone, day_start::text FROM accounts WHERE account_id = %s", (account,)
        ).fetchone()
    assert zone == ("Europe/Prague", "00:00:00")


def test_overrides_and_unknown_rulesets_choose_the_day(pool: Pool, account: str) -> None:
    with pool.connection() as conn, conn.cursor() as cur:
        upsert_accounts(
            cur,
            [
                AccountEvent(
                    account_id=account,
                    ruleset="ftmo-2step",
                    initial_balance=10_000.0,
                    currency="EUR",
                    overrides={"timezone": "America/New_York", "day_start": "17:00"},
                ),
                AccountEvent(
                    account_id=f"{account}-file",
                    ruleset="desk/own-rules.json",
                    initial_balance=10_000.0,
                    currency="EUR",
                ),
            ],
        )
        rows = cur.execute(
            "SELECT account_id, day_zone, day_start::text FROM accounts "
            "WHERE account_id IN (%s, %s) ORDER BY account_id",
            (account, f"{account}-file"),
        ).fetchall()
    assert rows == [
        (account, "America/New_York", "17:00:00"),
        (f"{account}-file", "UTC", "00:00:00"),
    ]


def test_the_day_functions_match_the_engine_calendar(database_url: str) -> None:
    # A year of instants every 37 minutes, for each built-in zone and day start.
    rules = {(r.timezone, r.day_start) for r in builtin_rulesets().values()}
    with connect(database_url) as conn:
        for zone_name, day_start in sorted(rules):
            rows = conn.execute(
                "SELECT t, aetheris_trading_day(t, %s, %s), "
                "aetheris_trading_day_start(aetheris_trading_day(t, %s, %s), %s, %s) "
                "FROM generate_series('2026-01-01Z'::timestamptz, '2026-12-31Z', "
                "'37 minutes') AS t",
                (zone_name, day_start, zone_name, day_start, zone_name, day_start),
            ).fetchall()
            rule = next(
                r
                for r in builtin_rulesets().values()
                if (r.timezone, r.day_start) == (zone_name, day_start)
            )
            for ts, label, start in rows:
                engine = trading_day_of(ts, rule.zone, rule.day_start)
                assert (label, start) == (engine.label, engine.start), (zone_name, ts)


def test_dashboard_view_and_engine_agree_on_ftmo_days_across_the_switch(
    pool: Pool, account: str
) -> None:
    # Sunday 29 March 2026, Prague on CEST from 01:00 UTC: the 30th starts at 22:00 UTC.
    # A loss closed at 21:59 UTC (23:59 CEST) is the 29th's; one closed at 22:30 UTC
    # (00:30 CEST) is the 30th's and takes the 30th's loss from the day's starting
    # balance 99,000 to 5,200: more than FTMO's 5,000 (5 % of 100,000), a level-3 breach.
    events: list[AccountEvent | BalanceEvent | TradeEvent] = [
        AccountEvent(
            account_id=account, ruleset="ftmo-2step", initial_balance=100_000.0, currency="USD"
        ),
        tick(account, utc(2026, 3, 29, 21, 0), 100_000.0, 100_000.0),
        closed(account, "D1", utc(2026, 3, 29, 21, 59), -1_000.0),
        tick(account, utc(2026, 3, 29, 21, 59), 99_000.0, 99_000.0),
        closed(account, "D2", utc(2026, 3, 29, 22, 30), -5_200.0),
        tick(account, utc(2026, 3, 29, 22, 30), 93_800.0, 93_800.0),
    ]
    armor = Armor(RulesetCatalog())
    breaches = [b for e in events for b in armor.process(e)]
    PostgresSink(pool).write([*events, *breaches])

    daily_loss = [b for b in breaches if b.rule == "max_daily_loss" and b.level == 3]
    assert len(daily_loss) == 1 and daily_loss[0].value == 5_200.0
    rule = builtin_rulesets()["ftmo-2step"]
    engine_day = trading_day_of(daily_loss[0].ts, rule.zone, rule.day_start).label
    assert engine_day == date(2026, 3, 30)

    dashboard = DatabaseHistory(pool).daily(account, 90)
    assert [(d.day, d.net_pnl) for d in dashboard] == [
        (date(2026, 3, 29), -1_000.0),
        (date(2026, 3, 30), -5_200.0),
    ]
    assert view_by_day(pool, account) == {
        date(2026, 3, 29): Decimal("-1000.0"),
        date(2026, 3, 30): Decimal("-5200.0"),
    }
    breach_day = next(d for d in dashboard if d.day == engine_day)
    assert -breach_day.net_pnl == daily_loss[0].value


def test_zones_resolve_from_the_known_zones_table_then_the_zone_database(
    pool: Pool, account: str
) -> None:
    """Migration 0016: a known zone from the table, one missing from it from PostgreSQL's
    zone database (pg_timezone_names), one neither knows counts UTC days."""

    def register_with(conn: psycopg.Connection[Any], suffix: str, zone: str) -> tuple[str, str]:
        with conn.cursor() as cur:
            upsert_accounts(
                cur,
                [
                    AccountEvent(
                        account_id=f"{account}-{suffix}",
                        ruleset="ftmo-2step",
                        initial_balance=10_000.0,
                        currency="EUR",
                        overrides={"timezone": zone},
                    )
                ],
            )
            row = cur.execute(
                "SELECT day_zone, day_start::text FROM accounts WHERE account_id = %s",
                (f"{account}-{suffix}",),
            ).fetchone()
        assert row is not None
        return row[0], row[1]

    with pool.connection() as conn:
        with conn.transaction():
            known = conn.execute(
                "SELECT count(*) FROM aetheris_known_zones WHERE name IN "
                "('Europe/Prague', 'America/Chicago', 'Asia/Kathmandu')"
            ).fetchone()
            assert known == (3,)
            assert register_with(conn, "known", "Asia/Kathmandu") == ("Asia/Kathmandu", "00:00:00")
            assert register_with(conn, "unknown", "Mars/Olympus") == ("UTC", "00:00:00")
        # A zone PostgreSQL knows but the table lacks (a newer release's): still resolved.
        with conn.transaction(force_rollback=True):
            conn.execute("DELETE FROM aetheris_known_zones WHERE name = 'Pacific/Chatham'")
            assert register_with(conn, "newer", "Pacific/Chatham") == (
                "Pacific/Chatham",
                "00:00:00",
            )
