"""Dashboard query latency: one account, 90 days of daily P&L from ``daily_account_pnl``
with 10 million balance ticks loaded; p50 / p99 over many queries. Beside it, the same
figures computed from the raw ticks and trades (what the roll-up saves).

Ticks and trades are generated server-side (generate_series), a few days per statement,
through the real table, its index and the roll-up triggers. A scratch database is
created on the server and dropped at the end.

    python bench/db_dashboard_query.py [--ticks 10000000] [--accounts 50] [--days 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe
from infra.db.database import prepare_database
from infra.db.pool import connect
from infra.db.repositories import DAILY_PNL_QUERY
from infra.db.scratch import scratch_database

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FIRST_DAY = date(2025, 6, 2)
WINDOW_DAYS = 90

LOAD_TICKS = """
INSERT INTO balance_ticks (account_id, ts, balance, equity)
SELECT 'ACC' || lpad(a::text, 5, '0'),
       %(first)s::timestamptz + d * interval '1 day'
           + make_interval(secs => (i * 86400.0 / %(per_day)s)::float8),
       100000 + d * 10 + a,
       100000 + d * 10 + a + ((a * 7919 + i * 104729 + d * 31) %% 2001 - 1000) / 4.0
FROM generate_series(%(day_from)s::int, %(day_to)s::int) AS d,
     generate_series(0, %(accounts)s::int - 1) AS a,
     generate_series(0, %(per_day)s::int - 1) AS i
"""

LOAD_TRADES = """
INSERT INTO trades (account_id, broker_trade_id, status, symbol, side, quantity,
                    entry_price, entry_time, exit_price, exit_time, pnl)
SELECT 'ACC' || lpad(a::text, 5, '0'), 'T' || d || '-' || n, 'closed', 'EURUSD',
       CASE WHEN n %% 2 = 0 THEN 'long' ELSE 'short' END, 1, 1.085,
       %(first)s::timestamptz + d * interval '1 day' + (8 + n) * interval '1 hour',
       1.086,
       %(first)s::timestamptz + d * interval '1 day' + (8 + n) * interval '1 hour'
           + interval '35 minutes',
       ((a * 13 + d * 7 + n * 101) %% 1001 - 480)::numeric
FROM generate_series(%(day_from)s::int, %(day_to)s::int) AS d,
     generate_series(0, %(accounts)s::int - 1) AS a,
     generate_series(0, %(trades)s::int - 1) AS n
"""

# The same figures from the raw rows (what a dashboard would run without the roll-up).
RAW_QUERY = """
WITH tick_rows AS (
    SELECT (ts AT TIME ZONE 'UTC')::date AS day, ts, balance, equity,
           max(equity) OVER running AS peak,
           first_value(balance) OVER running AS start_balance,
           last_value(balance) OVER whole AS end_balance
    FROM balance_ticks
    WHERE account_id = %(account)s
      AND ts >= %(first)s::date::timestamp AT TIME ZONE 'UTC'
      AND ts < (%(last)s::date + 1)::timestamp AT TIME ZONE 'UTC'
    WINDOW running AS (PARTITION BY (ts AT TIME ZONE 'UTC')::date
                       ORDER BY ts, balance, equity ROWS UNBOUNDED PRECEDING),
           whole AS (PARTITION BY (ts AT TIME ZONE 'UTC')::date ORDER BY ts, balance, equity
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
), tick_days AS (
    SELECT day, min(start_balance) AS start_balance, min(end_balance) AS end_balance,
           max(equity) AS high_equity, min(equity) AS low_equity,
           max(peak - equity) AS drawdown
    FROM tick_rows GROUP BY day
), trade_days AS (
    SELECT (exit_time AT TIME ZONE 'UTC')::date AS day, count(*) AS trades,
           count(*) FILTER (WHERE pnl > 0) AS wins, count(*) FILTER (WHERE pnl < 0) AS losses,
           sum(pnl) AS net_pnl
    FROM trades
    WHERE account_id = %(account)s AND status = 'closed'
      AND exit_time >= %(first)s::date::timestamp AT TIME ZONE 'UTC'
      AND exit_time < (%(last)s::date + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1
)
SELECT * FROM tick_days FULL JOIN trade_days USING (day) ORDER BY day
"""


def load(url: str, *, ticks: int, accounts: int, days: int, trades_per_day: int) -> None:
    per_day = max(1, ticks // (accounts * days))
    days_per_statement = max(1, 1_000_000 // (accounts * per_day))
    began = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        for day_from in range(0, days, days_per_statement):
            day_to = min(days, day_from + days_per_statement) - 1
            params = {
                "first": FIRST_DAY,
                "day_from": day_from,
                "day_to": day_to,
                "accounts": accounts,
                "per_day": per_day,
                "trades": trades_per_day,
            }
            conn.execute(LOAD_TICKS, params)
            conn.execute(LOAD_TRADES, params)
            done = (day_to + 1) * accounts * per_day
            print(f"  loaded {done:,} ticks ({time.perf_counter() - began:.0f}s)", flush=True)
        conn.execute("VACUUM ANALYZE")
        row = conn.execute("SELECT count(*) FROM balance_ticks").fetchone()
    loaded = int(row[0]) if row else 0
    elapsed = time.perf_counter() - began
    print(
        f"loaded {loaded:,} ticks in {elapsed:.0f}s ({loaded / elapsed:,.0f} ticks/s, roll-up on)"
    )


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return statistics.median(samples_ms), cuts[98]


def measure(
    url: str, query: str, *, accounts: int, days: int, queries: int, seed: int
) -> tuple[float, float, int]:
    rng = random.Random(seed)
    samples: list[float] = []
    rows = 0
    with connect(url) as conn:
        for _ in range(queries):
            account = f"ACC{rng.randrange(accounts):05d}"
            first = FIRST_DAY + timedelta(days=rng.randrange(days - WINDOW_DAYS + 1))
            last = first + timedelta(days=WINDOW_DAYS - 1)
            began = time.perf_counter()
            if query == DAILY_PNL_QUERY:
                result = conn.execute(query, (account, first, last)).fetchall()
            else:
                named = {"account": account, "first": first, "last": last}
                result = conn.execute(query, named).fetchall()
            samples.append((time.perf_counter() - began) * 1000)
            rows = len(result)
            conn.rollback()
    p50, p99 = percentiles(samples)
    return p50, p99, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--trades-per-day", type=int, default=10)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--raw-queries", type=int, default=30)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    if args.days < WINDOW_DAYS:
        parser.error(f"--days must be at least {WINDOW_DAYS}")

    print(f"machine: {describe()}")
    with scratch_database(args.admin_url, prefix="aetheris_bench") as url:
        prepare_database(url)
        load(
            url,
            ticks=args.ticks,
            accounts=args.accounts,
            days=args.days,
            trades_per_day=args.trades_per_day,
        )
        measure(url, DAILY_PNL_QUERY, accounts=args.accounts, days=args.days, queries=50, seed=1)
        p50, p99, rows = measure(
            url,
            DAILY_PNL_QUERY,
            accounts=args.accounts,
            days=args.days,
            queries=args.queries,
            seed=2,
        )
        raw50, raw99, raw_rows = measure(
            url, RAW_QUERY, accounts=args.accounts, days=args.days, queries=args.raw_queries, seed=3
        )
    if rows != WINDOW_DAYS or raw_rows != WINDOW_DAYS:
        raise SystemExit(f"expected {WINDOW_DAYS} days per query, got {rows} and {raw_rows}")
    header = f"query (1 account, {WINDOW_DAYS} days; {args.ticks:,} ticks loaded)"
    print()
    print(f"| {header} | runs | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(f"| `daily_account_pnl` (roll-up) | {args.queries:,} | {p50:.3f} | {p99:.3f} |")
    raw = f"{args.raw_queries} | {raw50:.1f} | {raw99:.1f}"
    print(f"| same figures from raw ticks and trades | {raw} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
