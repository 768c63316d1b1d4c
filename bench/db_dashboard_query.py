"""Dashboard query latency on both backends side by side: one account, 90 trading days
of daily P&L (``aetheris_daily_pnl``, what ``daily_pnl`` and the API read) with 10
million balance ticks loaded; p50 / p99 over many queries. Beside it, the same figures
computed from the raw ticks and trades (what the roll-up saves), and on TimescaleDB the
disk bytes per million ticks before and after compression.

The accounts are registered first, alternately on ftmo-2step (midnight Europe/Prague)
and topstep-50k (17:00 America/Chicago), so the days are trading days. Ticks and trades
are generated server-side (generate_series), a few days per statement, through the real
tables: on plain PostgreSQL its index and roll-up triggers; on TimescaleDB the
hypertables, then the policy jobs run as the server would (refresh, then compression).
The days end ten days before today, inside the policies' windows. A scratch database is
created on each server and dropped at the end.

    python bench/db_dashboard_query.py [--ticks 10000000] [--accounts 50] [--days 200]
        [--backends postgresql,timescaledb]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe, write_result
from infra.db.database import prepare_database
from infra.db.migrate import Backend
from infra.db.pool import connect
from infra.db.repositories import DAILY_PNL_QUERY
from infra.db.scratch import scratch_database
from infra.db.storage_report import COMPRESSION, REFRESH, run_policy_jobs, tick_bytes

ADMIN_URLS: dict[Backend, str] = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "timescaledb": "postgresql://postgres@127.0.0.1:5433/postgres",
}
WINDOW_DAYS = 90
FIRST_DAY = date(2025, 6, 2)  # set in main(): the loaded days end ten days before today

REGISTER = """
INSERT INTO accounts (account_id, ruleset, initial_balance, currency)
SELECT 'ACC' || lpad(a::text, 5, '0'),
       CASE WHEN a %% 2 = 0 THEN 'ftmo-2step' ELSE 'topstep-50k' END, 100000, 'USD'
FROM generate_series(0, %(accounts)s::int - 1) AS a
"""

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


def load(url: str, *, ticks: int, accounts: int, days: int, trades_per_day: int) -> float:
    """Load the rows; returns the seconds it took."""
    per_day = max(1, ticks // (accounts * days))
    days_per_statement = max(1, 1_000_000 // (accounts * per_day))
    began = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute(REGISTER, {"accounts": accounts})
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
    print(f"loaded {loaded:,} ticks in {elapsed:.0f}s ({loaded / elapsed:,.0f} ticks/s)")
    return elapsed


def run_jobs(url: str, kind: str) -> float:
    began = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        ran = run_policy_jobs(conn, kind)
    elapsed = time.perf_counter() - began
    print(f"  ran {kind} jobs {ran} in {elapsed:.1f}s", flush=True)
    return elapsed


def disk_bytes(url: str, backend: Backend) -> int:
    with connect(url) as conn:
        return tick_bytes(conn, backend)


def bench_backend(backend: Backend, admin_url: str, args: argparse.Namespace) -> dict[str, float]:
    print(f"== {backend} ({admin_url})", flush=True)
    out: dict[str, float] = {}
    with scratch_database(admin_url, prefix="aetheris_bench") as url:
        prepare_database(url, timescale="off" if backend == "postgresql" else "require")
        if backend == "timescaledb":
            with connect(url, autocommit=True) as conn:  # this run runs them itself
                conn.execute(
                    "SELECT alter_job(job_id, scheduled => false) "
                    "FROM timescaledb_information.jobs WHERE hypertable_schema = 'public'"
                )
        out["load_seconds"] = load(
            url,
            ticks=args.ticks,
            accounts=args.accounts,
            days=args.days,
            trades_per_day=args.trades_per_day,
        )
        with connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM balance_ticks").fetchone()
        ticks = int(row[0]) if row else 0
        out["bytes_per_million_ticks"] = disk_bytes(url, backend) / ticks * 1e6
        if backend == "timescaledb":
            out["refresh_seconds"] = run_jobs(url, REFRESH)
            out["compression_seconds"] = run_jobs(url, COMPRESSION)
            with connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
            out["bytes_per_million_ticks_compressed"] = disk_bytes(url, backend) / ticks * 1e6
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
    out.update(p50_ms=p50, p99_ms=p99, raw_p50_ms=raw50, raw_p99_ms=raw99, ticks=ticks)
    print(
        f"{backend}: daily_pnl p50 {p50:.3f} ms, p99 {p99:.3f} ms; raw p50 {raw50:.1f} ms; "
        f"{out['bytes_per_million_ticks']:,.0f} bytes per million ticks",
        flush=True,
    )
    return out


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
    global FIRST_DAY  # noqa: PLW0603 - one run's dates, set once here
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--trades-per-day", type=int, default=10)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--raw-queries", type=int, default=30)
    parser.add_argument("--backends", default="postgresql,timescaledb")
    parser.add_argument("--admin-url", default=ADMIN_URLS["postgresql"])
    parser.add_argument("--timescale-admin-url", default=ADMIN_URLS["timescaledb"])
    args = parser.parse_args()
    if args.days < WINDOW_DAYS:
        parser.error(f"--days must be at least {WINDOW_DAYS}")
    if args.days > 370:
        parser.error("--days must stay inside the refresh policy's 390-day window (at most 370)")
    FIRST_DAY = datetime.now(UTC).date() - timedelta(days=args.days + 10)
    urls: dict[Backend, str] = {
        "postgresql": args.admin_url,
        "timescaledb": args.timescale_admin_url,
    }
    chosen: list[Backend] = []
    for name in args.backends.split(","):
        if name not in urls:
            parser.error(f"unknown backend {name!r} (postgresql, timescaledb)")
        chosen.append("postgresql" if name == "postgresql" else "timescaledb")

    print(f"machine: {describe()}")
    results = {backend: bench_backend(backend, urls[backend], args) for backend in chosen}
    write_result("db_dashboard_query", {"args": vars(args), "results": results})
    header = f"{args.ticks:,} ticks loaded, 1 account, {WINDOW_DAYS} trading days"
    print()
    print(f"| {header} | " + " | ".join(chosen) + " |")
    print("|---|" + "---:|" * len(chosen))
    rows = [
        ("load (s)", "load_seconds", "{:.0f}"),
        (f"`daily_pnl` p50 ms ({args.queries:,} runs)", "p50_ms", "{:.3f}"),
        ("`daily_pnl` p99 ms", "p99_ms", "{:.3f}"),
        (f"same from raw rows p50 ms ({args.raw_queries} runs)", "raw_p50_ms", "{:.1f}"),
        ("same from raw rows p99 ms", "raw_p99_ms", "{:.1f}"),
        ("disk bytes per million ticks", "bytes_per_million_ticks", "{:,.0f}"),
        ("… after compression", "bytes_per_million_ticks_compressed", "{:,.0f}"),
        ("refresh jobs (s)", "refresh_seconds", "{:.1f}"),
        ("compression job (s)", "compression_seconds", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        cells = [fmt.format(results[b][key]) if key in results[b] else "–" for b in chosen]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
