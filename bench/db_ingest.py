"""Balance ticks per second into PostgreSQL through ``PostgresSink`` (binary COPY in
batches, one transaction each), beside plain ``COPY`` from psql of the same rows as a
CSV file -- the limit. Both into the real ``balance_ticks`` table (its index and the
daily roll-up triggers), and again with the roll-up triggers switched off.

A scratch database is created on the server and dropped at the end.

    python bench/db_ingest.py [--rows 1000000] [--batch 10000] [--accounts 100]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe
from infra.db.database import prepare_database
from infra.db.pool import Pool, connect, create_pool
from infra.db.scratch import scratch_database
from infra.db.sinks import PostgresSink
from schemas.events import BalanceEvent

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def build_ticks(rows: int, accounts: int) -> list[BalanceEvent]:
    """A live feed: ticks round-robin over the accounts, one second apart per account."""
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    ids = [f"ACC{number:05d}" for number in range(accounts)]
    ticks = []
    for index in range(rows):
        step = index // accounts
        balance = 100_000.0 + (step // 600) * 10.0
        ticks.append(
            BalanceEvent(
                account_id=ids[index % accounts],
                ts=start + timedelta(seconds=step),
                balance=balance,
                equity=balance + ((index * 7919) % 2001 - 1000) / 4,
            )
        )
    return ticks


def write_csv(ticks: list[BalanceEvent], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for tick in ticks:
            writer.writerow([tick.account_id, tick.ts.isoformat(), tick.balance, tick.equity])


def reset(url: str, *, rollup: bool) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE balance_ticks")
        conn.execute("TRUNCATE daily_account_snapshots")
        conn.execute(f"ALTER TABLE balance_ticks {'ENABLE' if rollup else 'DISABLE'} TRIGGER USER")
        conn.execute("VACUUM ANALYZE balance_ticks")
        conn.execute("CHECKPOINT")


def stored(url: str) -> int:
    with connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM balance_ticks").fetchone()
    return int(row[0]) if row else 0


def psql_copy(url: str, path: Path) -> Callable[[], None]:
    psql = shutil.which("psql") or "psql"
    command = [
        psql,
        url,
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-c",
        f"\\copy balance_ticks (account_id, ts, balance, equity) FROM '{path}' WITH (FORMAT csv)",
    ]

    def run() -> None:
        subprocess.run(command, check=True)  # noqa: S603 -- fixed command

    return run


def sink_copy(pool: Pool, ticks: list[BalanceEvent], batch: int) -> Callable[[], None]:
    sink = PostgresSink(pool)

    def run() -> None:
        for start in range(0, len(ticks), batch):
            sink.write_ticks(ticks[start : start + batch])

    return run


def timed(url: str, run: Callable[[], None], rows: int, *, rollup: bool) -> float:
    reset(url, rollup=rollup)
    began = time.perf_counter()
    run()
    elapsed = time.perf_counter() - began
    if stored(url) != rows:
        raise SystemExit(f"expected {rows} rows stored, found {stored(url)}")
    return rows / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="ticks per sink batch")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()

    print(f"machine: {describe()}")
    began = time.perf_counter()
    ticks = build_ticks(args.rows, args.accounts)
    print(f"built {len(ticks):,} BalanceEvents in {time.perf_counter() - began:.1f}s")
    with (
        tempfile.TemporaryDirectory(prefix="aetheris-bench-") as folder,
        scratch_database(args.admin_url, prefix="aetheris_bench") as url,
    ):
        csv_path = Path(folder) / "ticks.csv"
        write_csv(ticks, csv_path)
        Path(folder).chmod(0o755)  # psql runs as us, but keep the file readable
        prepare_database(url)
        pool = create_pool(url, size=1, name="aetheris-bench")
        try:
            results: list[tuple[str, float]] = []
            for rollup in (True, False):
                label = "with the daily roll-up triggers" if rollup else "roll-up triggers off"
                for name, run in (
                    (f"psql \\copy, one COPY of the CSV ({label})", psql_copy(url, csv_path)),
                    (
                        f"PostgresSink, binary COPY, {args.batch:,}-tick batches ({label})",
                        sink_copy(pool, ticks, args.batch),
                    ),
                ):
                    best = max(
                        timed(url, run, len(ticks), rollup=rollup) for _ in range(args.rounds)
                    )
                    results.append((name, best))
                    print(f"{name}: {best:,.0f} ticks/s")
        finally:
            pool.close()
    print()
    print(f"| path ({args.rows:,} ticks, {args.accounts} accounts) | ticks/s |")
    print("|---|---:|")
    for name, rate in results:
        print(f"| {name} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
