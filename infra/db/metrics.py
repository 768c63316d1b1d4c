"""What the metrics routes read from PostgreSQL: the closed trades and balance ticks of one
account, or of several as one book, over a range; an account's equity curve downsampled in
the database; and the daily KPI snapshots (migration 0012).

Rows come back as plain tuples in the column order of the KPI engine's frames
(``risk_engine.metrics.frames``), so no per-row objects are built for a long range.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg.types.json import Jsonb

from infra.db.pool import Pool

# The order of TRADE_SCHEMA in risk_engine.metrics.frames.
_TRADES = """
SELECT account_id, broker_trade_id, symbol, side, quantity::float8, entry_price::float8,
       exit_price::float8, entry_time, exit_time, pnl::float8, commission::float8, swap::float8,
       stop_loss::float8, take_profit::float8, mfe::float8, mae::float8, tags
FROM trades
WHERE account_id = %(account)s AND status = 'closed'
  AND (%(since)s::timestamptz IS NULL OR exit_time >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR exit_time < %(until)s::timestamptz)
ORDER BY exit_time, broker_trade_id
"""

# The KPI engine reads balance ticks only for each calendar day's close (the equity of
# the day's last tick, by the KPI time zone): the database hands over just those.
# One account per query: a book runs them per account (``account_id = ANY(...)`` over
# several made one account's read three times slower: BENCHMARKS.md).
_DAY_CLOSES = """
SELECT DISTINCT ON ((ts AT TIME ZONE %(zone)s)::date) account_id, ts, balance, equity
FROM balance_ticks
WHERE account_id = %(account)s
  AND (%(since)s::timestamptz IS NULL OR ts >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR ts < %(until)s::timestamptz)
ORDER BY (ts AT TIME ZONE %(zone)s)::date, ts DESC
"""

_REALISED_BEFORE = """
SELECT coalesce(sum(pnl), 0)::float8 FROM trades
WHERE account_id = %(account)s AND status = 'closed' AND exit_time < %(since)s::timestamptz
"""

# Per time bucket: the first, lowest, highest and last equity point (the "M4" reduction):
# a line drawn through them covers exactly the pixels the full series would.
_EQUITY_CURVE = """
WITH picked AS (
    SELECT ts, balance, equity,
           least(floor(extract(epoch FROM ts - %(since)s::timestamptz)
                       / %(width)s::float8)::int, %(buckets)s - 1) AS bucket
    FROM balance_ticks
    WHERE account_id = %(account)s AND ts >= %(since)s::timestamptz
      AND ts < %(until)s::timestamptz
), ranked AS (
    SELECT ts, balance, equity,
           row_number() OVER (PARTITION BY bucket ORDER BY ts) AS first_rank,
           row_number() OVER (PARTITION BY bucket ORDER BY ts DESC) AS last_rank,
           row_number() OVER (PARTITION BY bucket ORDER BY equity, ts) AS low_rank,
           row_number() OVER (PARTITION BY bucket ORDER BY equity DESC, ts) AS high_rank
    FROM picked
)
SELECT ts, balance, equity FROM ranked
WHERE first_rank = 1 OR last_rank = 1 OR low_rank = 1 OR high_rank = 1
ORDER BY ts
"""


@dataclass(frozen=True)
class AccountBasics:
    account_id: str
    ruleset: str
    overrides: dict[str, Any]
    initial_balance: float
    currency: str


@dataclass(frozen=True)
class JournalRows:
    """An account's closed trades over a range, the last balance tick of each calendar day
    in it, and its balance at the range's start (the initial balance plus every trade
    closed before it)."""

    account: AccountBasics
    start_balance: float
    trades: list[tuple[Any, ...]]
    balances: list[tuple[Any, ...]]


@dataclass(frozen=True)
class BookRows:
    """Several accounts' closed trades over a range and the last balance tick of each of
    their calendar days in it, with each account's balance at the range's start."""

    accounts: list[AccountBasics]
    start_balances: dict[str, float]
    trades: list[tuple[Any, ...]]
    balances: list[tuple[Any, ...]]


@dataclass(frozen=True)
class EquityPoint:
    ts: datetime
    balance: float
    equity: float


def account_basics(pool: Pool, account_id: str) -> AccountBasics | None:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT account_id, ruleset, overrides, initial_balance::float8, currency "
            "FROM accounts WHERE account_id = %s",
            (account_id,),
        ).fetchone()
    return None if row is None else AccountBasics(*row)


def accounts_basics(pool: Pool, account_ids: Sequence[str]) -> list[AccountBasics]:
    """These accounts (those that exist), by id."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT account_id, ruleset, overrides, initial_balance::float8, currency "
            "FROM accounts WHERE account_id = ANY(%s) ORDER BY account_id",
            (list(account_ids),),
        ).fetchall()
    return [AccountBasics(*row) for row in rows]


def book_rows(
    pool: Pool,
    accounts: Sequence[AccountBasics],
    since: datetime | None,
    until: datetime | None,
    *,
    zone: str = "UTC",
) -> BookRows:
    """What the KPI engine needs of ``[since, until)`` for these accounts together;
    ``zone`` (an IANA name) says where calendar days end."""
    start_balances: dict[str, float] = {}
    trades: list[tuple[Any, ...]] = []
    balances: list[tuple[Any, ...]] = []
    with pool.connection() as conn:
        for account in accounts:
            params = {"account": account.account_id, "since": since, "until": until, "zone": zone}
            trades += [tuple(row) for row in conn.execute(_TRADES, params)]
            balances += [tuple(row) for row in conn.execute(_DAY_CLOSES, params)]
            realised = 0.0
            if since is not None:
                found = conn.execute(_REALISED_BEFORE, params).fetchone()
                realised = float(found[0]) if found is not None else 0.0
            start_balances[account.account_id] = account.initial_balance + realised
    # One book in the order the trades were realised (ties: by account, then trade id).
    trades.sort(key=lambda row: (row[8], row[0], row[1]))
    return BookRows(
        accounts=list(accounts),
        start_balances=start_balances,
        trades=trades,
        balances=balances,
    )


def journal_rows(
    pool: Pool,
    account: AccountBasics,
    since: datetime | None,
    until: datetime | None,
    *,
    zone: str = "UTC",
) -> JournalRows:
    """What the KPI engine needs of ``[since, until)``; ``zone`` (an IANA name) says where
    calendar days end."""
    params = {"account": account.account_id, "since": since, "until": until, "zone": zone}
    with pool.connection() as conn:
        trades = conn.execute(_TRADES, params).fetchall()
        balances = conn.execute(_DAY_CLOSES, params).fetchall()
        realised = 0.0
        if since is not None:
            found = conn.execute(_REALISED_BEFORE, params).fetchone()
            realised = float(found[0]) if found is not None else 0.0
    return JournalRows(
        account=account,
        start_balance=account.initial_balance + realised,
        trades=[tuple(row) for row in trades],
        balances=[tuple(row) for row in balances],
    )


_FINGERPRINT = """
SELECT (SELECT concat_ws(':', count(*), max(updated_at), sum(pnl))
        FROM trades
        WHERE account_id = %(account)s AND status = 'closed'
          AND (%(until)s::timestamptz IS NULL OR exit_time < %(until)s::timestamptz)),
       (SELECT concat_ws(':', count(*), min(ts), max(ts))
        FROM balance_ticks
        WHERE account_id = %(account)s
          AND (%(since)s::timestamptz IS NULL OR ts >= %(since)s::timestamptz)
          AND (%(until)s::timestamptz IS NULL OR ts < %(until)s::timestamptz))
"""

# The same per account of a book, in one round trip.
_BOOK_FINGERPRINT = """
SELECT a.account_id,
       (SELECT concat_ws(':', count(*), max(updated_at), sum(pnl))
        FROM trades t
        WHERE t.account_id = a.account_id AND t.status = 'closed'
          AND (%(until)s::timestamptz IS NULL OR t.exit_time < %(until)s::timestamptz)),
       (SELECT concat_ws(':', count(*), min(ts), max(ts))
        FROM balance_ticks b
        WHERE b.account_id = a.account_id
          AND (%(since)s::timestamptz IS NULL OR b.ts >= %(since)s::timestamptz)
          AND (%(until)s::timestamptz IS NULL OR b.ts < %(until)s::timestamptz))
FROM unnest(%(accounts)s::text[]) AS a(account_id)
ORDER BY a.account_id
"""


def history_fingerprint(
    pool: Pool, account_id: str, since: datetime | None, until: datetime | None
) -> str:
    """Changes whenever what the KPIs of ``[since, until)`` are computed from changes: the
    closed trades up to ``until`` (count, last update, P&L sum -- those before ``since``
    set the starting balance) and the ticks in the range (count, first, last)."""
    params = {"account": account_id, "since": since, "until": until}
    with pool.connection() as conn:
        row = conn.execute(_FINGERPRINT, params).fetchone()
    return "" if row is None else f"{row[0]}|{row[1]}"


def book_fingerprint(
    pool: Pool, account_ids: Sequence[str], since: datetime | None, until: datetime | None
) -> str:
    """:func:`history_fingerprint` of each of these accounts, joined."""
    params = {"accounts": list(account_ids), "since": since, "until": until}
    with pool.connection() as conn:
        rows = conn.execute(_BOOK_FINGERPRINT, params).fetchall()
    return ";".join(f"{row[0]}={row[1]}|{row[2]}" for row in rows)


def tick_range(pool: Pool, account_id: str) -> tuple[datetime, datetime] | None:
    """The first and last tick time of the account (None without ticks)."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT min(ts), max(ts) FROM balance_ticks WHERE account_id = %s", (account_id,)
        ).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def equity_curve(
    pool: Pool, account_id: str, since: datetime, until: datetime, buckets: int
) -> list[EquityPoint]:
    """At most ``4 * buckets`` points of ``[since, until)``: each equal time bucket's first,
    lowest, highest and last equity tick, in time order."""
    width = max((until - since).total_seconds() / buckets, 1e-6)
    params = {
        "account": account_id,
        "since": since,
        "until": until,
        "width": width,
        "buckets": buckets,
    }
    with pool.connection() as conn:
        rows = conn.execute(_EQUITY_CURVE, params).fetchall()
    return [EquityPoint(ts=row[0], balance=row[1], equity=row[2]) for row in rows]


# Daily KPI snapshots --------------------------------------------------------------------


def kpi_snapshot(pool: Pool, account_id: str, day: date) -> dict[str, Any] | None:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT kpis FROM daily_kpi_snapshots WHERE account_id = %s AND day = %s",
            (account_id, day),
        ).fetchone()
    if row is None:
        return None
    value = row[0]
    found: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return found


def save_kpi_snapshot(
    pool: Pool,
    account_id: str,
    *,
    day: date,
    bounds: tuple[datetime, datetime],
    kpis: dict[str, Any],
    computed_at: datetime,
) -> bool:
    """Store the day's KPIs once; False when a snapshot was already there (another runner
    took the day)."""
    with pool.connection() as conn:
        cur = conn.execute(
            "INSERT INTO daily_kpi_snapshots (account_id, day, day_start, day_end, kpis, "
            "computed_at) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (account_id, day) DO NOTHING",
            (account_id, day, bounds[0], bounds[1], Jsonb(kpis), computed_at),
        )
        return cur.rowcount == 1


def snapshot_accounts(pool: Pool) -> list[AccountBasics]:
    """Every account that is not deleted (the snapshot job's round)."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT account_id, ruleset, overrides, initial_balance::float8, currency "
            "FROM accounts WHERE deleted_at IS NULL ORDER BY account_id"
        ).fetchall()
    return [AccountBasics(*row) for row in rows]


def last_snapshot_end(pool: Pool, account_id: str) -> datetime | None:
    """Where the account's newest snapshotted trading day ended."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT max(day_end) FROM daily_kpi_snapshots WHERE account_id = %s", (account_id,)
        ).fetchone()
    return None if row is None else row[0]


def next_activity(pool: Pool, account_id: str, after: datetime | None) -> datetime | None:
    """The earliest closed trade's exit or balance tick of the account at or after
    ``after`` (from the beginning for None)."""
    params = {"account": account_id, "after": after}
    with pool.connection() as conn:
        row = conn.execute(
            """
            SELECT least(
                (SELECT min(exit_time) FROM trades
                 WHERE account_id = %(account)s AND status = 'closed'
                   AND (%(after)s::timestamptz IS NULL OR exit_time >= %(after)s::timestamptz)),
                (SELECT min(ts) FROM balance_ticks
                 WHERE account_id = %(account)s
                   AND (%(after)s::timestamptz IS NULL OR ts >= %(after)s::timestamptz)))
            """,
            params,
        ).fetchone()
    return None if row is None else row[0]
