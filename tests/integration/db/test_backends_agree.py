"""Both backends give the same daily figures, by each account's trading day, as a
reference computed here with the engine's calendar -- for random ticks and trades across
day boundaries and DST switches, written in batches out of order (late data).

On TimescaleDB the policies run as their jobs (``CALL run_job``): the refresh after each
batch (late rows below the aggregates' watermark appear only then), compression (the
figures are the same when the raw chunks are compressed, and late rows still land in
them), retention (old raw chunks go, their days stay).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.db.pool import Pool, connect, create_pool
from infra.db.repositories import DailyPnl, daily_pnl
from infra.db.scratch import scratch_database
from infra.db.sinks import copy_ticks, upsert_accounts, upsert_trades
from infra.db.storage_report import COMPRESSION, REFRESH, RETENTION, run_policy_jobs
from risk_engine.calendar import trading_day_of
from schemas.events import AccountEvent, BalanceEvent, TradeEvent
from schemas.rulesets import builtin_rulesets
from tests.integration.db.conftest import migrated, reachable_admin_url

pytestmark = pytest.mark.integration

RULESETS = ("ftmo-2step", "topstep-50k", "apex-50k-intraday", "personal")


def _last_sunday_of_march(year: int) -> date:
    day = date(year, 3, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _recent_european_switch(today: date) -> date:
    """The last EU spring switch at least 20 days ago (inside the refresh window of 390
    days and past the 7-day compression age, whenever the tests run)."""
    this_year = _last_sunday_of_march(today.year)
    return (
        this_year
        if today - this_year >= timedelta(days=20)
        else (_last_sunday_of_march(today.year - 1))
    )


EU_SWITCH = _recent_european_switch(datetime.now(UTC).date())
# Three days around the EU switch (Prague: 01:00 UTC) plus the days around the US switch
# two weeks before it (second Sunday of March, 2:00 local: Chicago and New York).
WINDOW_START = datetime.combine(EU_SWITCH - timedelta(days=22), datetime.min.time(), UTC)
WINDOW_MINUTES = 25 * 24 * 60


@dataclass(frozen=True)
class Databases:
    plain: Pool
    timescale: Pool
    timescale_url: str


@pytest.fixture(scope="module")
def databases() -> Iterator[Databases]:
    plain_admin = reachable_admin_url("postgresql")
    timescale_admin = reachable_admin_url("timescaledb")
    with (
        scratch_database(plain_admin, prefix="aetheris_test_agree") as plain_url,
        scratch_database(timescale_admin, prefix="aetheris_test_agree") as timescale_url,
    ):
        migrated(plain_url, "postgresql")
        migrated(timescale_url, "timescaledb")
        plain = create_pool(plain_url, size=2, name="agree-plain")
        timescale = create_pool(timescale_url, size=2, name="agree-timescale")
        try:
            yield Databases(plain, timescale, timescale_url)
        finally:
            plain.close()
            timescale.close()


def run_jobs(url: str, kind: str) -> list[int]:
    with connect(url, autocommit=True) as conn:
        return run_policy_jobs(conn, kind)


# -- the reference ------------------------------------------------------------------------


def reference(
    rulesets: dict[str, str], ticks: Sequence[BalanceEvent], trades: Sequence[TradeEvent]
) -> dict[str, list[tuple[Any, ...]]]:
    """Daily figures per account, straight from the events with the engine's calendar."""
    catalog = builtin_rulesets()
    days: dict[tuple[str, date], dict[str, Any]] = {}

    def day_of(account: str, ts: datetime) -> date:
        rule = catalog[rulesets[account]]
        return trading_day_of(ts, rule.zone, rule.day_start).label

    for t in sorted(ticks, key=lambda t: (t.account_id, t.ts, t.balance, t.equity)):
        row = days.setdefault((t.account_id, day_of(t.account_id, t.ts)), {})
        if "start" not in row:
            row.update(start=t.balance, high=t.equity, low=t.equity, peak=t.equity, dd=0.0)
        row["end"] = t.balance
        row["high"] = max(row["high"], t.equity)
        row["low"] = min(row["low"], t.equity)
        row["peak"] = max(row["peak"], t.equity)
        row["dd"] = max(row["dd"], row["peak"] - t.equity)
    for trade in trades:
        assert trade.exit_time is not None and trade.pnl is not None
        row = days.setdefault((trade.account_id, day_of(trade.account_id, trade.exit_time)), {})
        pnl = Decimal(repr(trade.pnl))
        row["pnl"] = row.get("pnl", Decimal(0)) + pnl
        row["trades"] = row.get("trades", 0) + 1
        row["wins"] = row.get("wins", 0) + (pnl > 0)
        row["losses"] = row.get("losses", 0) + (pnl < 0)
    out: dict[str, list[tuple[Any, ...]]] = {account: [] for account in rulesets}
    for (account, day), row in sorted(days.items()):
        out[account].append(
            (
                day,
                row.get("start"),
                row.get("end"),
                row.get("pnl", Decimal(0)),
                row.get("trades", 0),
                row.get("wins", 0),
                row.get("losses", 0),
                row.get("dd"),
                row.get("high"),
                row.get("low"),
            )
        )
    return out


def figures(rows: list[DailyPnl]) -> list[tuple[Any, ...]]:
    return [
        (
            r.day,
            r.start_balance,
            r.end_balance,
            r.net_pnl,
            r.trades,
            r.wins,
            r.losses,
            r.max_intraday_drawdown,
            r.high_equity,
            r.low_equity,
        )
        for r in rows
    ]


def stored(pool: Pool, accounts: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    first, last = WINDOW_START.date() - timedelta(days=2), WINDOW_START.date() + timedelta(days=40)
    with pool.connection() as conn:
        return {a: figures(daily_pnl(conn, a, first, last)) for a in accounts}


def write(pool: Pool, ticks: Sequence[BalanceEvent], trades: Sequence[TradeEvent]) -> None:
    with pool.connection() as conn, conn.cursor() as cur:
        copy_ticks(cur, ticks)
        upsert_trades(cur, trades)


def register(pools: Sequence[Pool], rulesets: dict[str, str]) -> None:
    events = [
        AccountEvent(account_id=a, ruleset=r, initial_balance=50_000.0, currency="USD")
        for a, r in rulesets.items()
    ]
    for pool in pools:
        with pool.connection() as conn, conn.cursor() as cur:
            upsert_accounts(cur, events)


# -- random histories ---------------------------------------------------------------------

# Minutes in the window, dense around the day boundaries of the four rule sets (22:00 to
# 24:00 UTC holds Prague's midnight, Chicago's 17:00 and New York's 18:00 in both
# seasons) and the switches.
boundary_minutes = st.builds(
    lambda day, minute: day * 24 * 60 + 21 * 60 + minute,
    st.integers(0, 24),
    st.integers(0, 4 * 60),
)
any_minute = st.integers(0, WINDOW_MINUTES - 1)
minutes = st.one_of(boundary_minutes, any_minute)
money = st.integers(49_000, 51_000).map(float)
tick_specs = st.tuples(st.integers(0, 3), minutes, money, money)
trade_specs = st.tuples(st.integers(0, 3), minutes, st.integers(-400, 400).map(float))
histories = st.tuples(
    st.lists(tick_specs, min_size=1, max_size=40),
    st.lists(trade_specs, max_size=15),
    st.integers(1, 3),  # batches
    st.randoms(use_true_random=False),
)


def build(
    accounts: list[str], spec: tuple[Any, ...]
) -> tuple[list[BalanceEvent], list[TradeEvent], int, Any]:
    tick_rows, trade_rows, batches, rng = spec
    at = WINDOW_START
    ticks = [
        BalanceEvent(account_id=accounts[i], ts=at + timedelta(minutes=m), balance=b, equity=e)
        for i, m, b, e in tick_rows
    ]
    trades = [
        TradeEvent(
            account_id=accounts[i],
            broker_trade_id=f"T{n}",
            status="closed",
            symbol="NQ",
            side="long",
            quantity=1.0,
            entry_price=100.0,
            entry_time=at + timedelta(minutes=m) - timedelta(minutes=45),
            exit_price=101.0,
            exit_time=at + timedelta(minutes=m),
            pnl=pnl,
        )
        for n, (i, m, pnl) in enumerate(trade_rows)
    ]
    return ticks, trades, batches, rng


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories)
def test_both_backends_find_the_same_trading_days(
    databases: Databases, history: tuple[Any, ...]
) -> None:
    rulesets = {f"AG-{uuid4().hex[:10]}": name for name in RULESETS}
    accounts = list(rulesets)
    ticks, trades, batches, rng = build(accounts, history)
    register([databases.plain, databases.timescale], rulesets)

    # The same events in the same random batches, each batch in random order: later
    # batches hold rows earlier than what is stored (late data).
    events: list[BalanceEvent | TradeEvent] = [*ticks, *trades]
    rng.shuffle(events)
    size = -(-len(events) // batches)
    for start in range(0, len(events), size):
        batch = events[start : start + size]
        batch_ticks = [e for e in batch if isinstance(e, BalanceEvent)]
        batch_trades = [e for e in batch if isinstance(e, TradeEvent)]
        write(databases.plain, batch_ticks, batch_trades)
        write(databases.timescale, batch_ticks, batch_trades)
        assert run_jobs(databases.timescale_url, REFRESH)  # both aggregates' policies

    expected = reference(rulesets, ticks, trades)
    assert stored(databases.plain, accounts) == expected
    assert stored(databases.timescale, accounts) == expected


def _ticks_of_days(account: str, first: datetime, days: int) -> list[BalanceEvent]:
    # Every 10 minutes; equity climbs 6 per tick and drops 300 at 02:00 UTC each day.
    out = []
    for n in range(days * 24 * 6):
        ts = first + timedelta(minutes=10 * n)
        drop = 300.0 if ts.hour == 2 and ts.minute == 0 else 0.0
        out.append(
            BalanceEvent(
                account_id=account, ts=ts, balance=50_000.0 + n, equity=50_000.0 + 6 * n - drop
            )
        )
    return out


def test_compressed_chunks_still_answer_the_dashboard(databases: Databases) -> None:
    account = f"CMP-{uuid4().hex[:8]}"
    rulesets = {account: "ftmo-2step"}
    register([databases.plain, databases.timescale], rulesets)
    first = datetime.combine(EU_SWITCH - timedelta(days=2), datetime.min.time(), UTC)
    ticks = _ticks_of_days(account, first, 4)
    write(databases.plain, ticks, [])
    write(databases.timescale, ticks, [])

    assert run_jobs(databases.timescale_url, COMPRESSION)
    with connect(databases.timescale_url) as conn:
        compressed = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'balance_ticks' AND is_compressed "
            "AND range_start < %s AND range_end > %s",
            (first + timedelta(days=4), first),
        ).fetchone()
    assert compressed is not None and compressed[0] >= 4  # 1-day chunks of those days

    run_jobs(databases.timescale_url, REFRESH)  # reads the compressed chunks
    expected = reference(rulesets, ticks, [])
    assert stored(databases.timescale, [account]) == expected
    assert stored(databases.plain, [account]) == expected

    # A late tick into a compressed chunk: a new low on the switch day.
    late = BalanceEvent(
        account_id=account,
        ts=datetime.combine(EU_SWITCH, datetime.min.time(), UTC) + timedelta(hours=5, minutes=3),
        balance=1.0,
        equity=2.0,
    )
    write(databases.plain, [late], [])
    write(databases.timescale, [late], [])
    run_jobs(databases.timescale_url, REFRESH)
    expected = reference(rulesets, [*ticks, late], [])
    assert stored(databases.timescale, [account]) == expected
    assert stored(databases.plain, [account]) == expected
    # worked example: the switch day (Prague) holds the late tick; its low is 2.0
    switch_day = next(row for row in expected[account] if row[0] == EU_SWITCH)
    assert switch_day[9] == 2.0


def test_retention_drops_old_raw_chunks_and_keeps_their_days(databases: Databases) -> None:
    account = f"OLD-{uuid4().hex[:8]}"
    rulesets = {account: "topstep-50k"}
    register([databases.timescale], rulesets)
    first = datetime.combine(
        datetime.now(UTC).date() - timedelta(days=430), datetime.min.time(), UTC
    )
    ticks = _ticks_of_days(account, first, 2)
    write(databases.timescale, ticks, [])
    with connect(databases.timescale_url, autocommit=True) as conn:
        # Beyond the policy's 390-day window: materialised by hand, as a backfill would.
        conn.execute(
            "CALL refresh_continuous_aggregate('hourly_balance_stats', %s, %s)",
            (first - timedelta(days=1), first + timedelta(days=3)),
        )
    before = stored_days(databases.timescale, account, first)
    assert before == reference(rulesets, ticks, [])[account]

    assert run_jobs(databases.timescale_url, RETENTION)
    assert run_jobs(databases.timescale_url, REFRESH)
    with connect(databases.timescale_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM balance_ticks WHERE account_id = %s", (account,)
        ).fetchone()
    assert left == (0,)
    assert stored_days(databases.timescale, account, first) == before


def stored_days(pool: Pool, account: str, first: datetime) -> list[tuple[Any, ...]]:
    with pool.connection() as conn:
        return figures(
            daily_pnl(
                conn, account, first.date() - timedelta(days=1), first.date() + timedelta(days=3)
            )
        )


def test_the_refresh_policy_is_what_makes_late_rows_visible(databases: Databases) -> None:
    # The aggregates' watermark is past these rows once a refresh ran: a late row is
    # read from the materialised hours only after the next refresh job.
    account = f"LAT-{uuid4().hex[:8]}"
    rulesets = {account: "personal"}
    register([databases.timescale], rulesets)
    day = datetime.combine(EU_SWITCH - timedelta(days=5), datetime.min.time(), UTC)
    first = [
        BalanceEvent(account_id=account, ts=day + timedelta(hours=9), balance=10.0, equity=10.0)
    ]
    write(databases.timescale, first, [])
    run_jobs(databases.timescale_url, REFRESH)
    late = [BalanceEvent(account_id=account, ts=day + timedelta(hours=8), balance=7.0, equity=7.0)]
    write(databases.timescale, late, [])
    with pytest.raises(AssertionError):
        assert stored(databases.timescale, [account]) == reference(rulesets, first + late, [])
    run_jobs(databases.timescale_url, REFRESH)
    assert stored(databases.timescale, [account]) == reference(rulesets, first + late, [])
    assert stored(databases.timescale, [account])[account][0][1] == 7.0  # the new start


def test_policy_jobs_exist_once_each(databases: Databases) -> None:
    with connect(databases.timescale_url) as conn:
        rows = conn.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs "
            "WHERE hypertable_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        ("policy_compression", "balance_ticks"),
        ("policy_refresh_continuous_aggregate", "hourly_balance_stats"),
        ("policy_refresh_continuous_aggregate", "hourly_trade_stats"),
        ("policy_retention", "balance_ticks"),
    ]
    with pytest.raises(psycopg.errors.UndefinedTable), connect(databases.timescale_url) as conn:
        conn.execute("SELECT 1 FROM daily_balance_stats")
