"""Balance ticks per second into each backend, side by side: through ``PostgresSink``
(binary COPY in batches, one transaction each), through the pipeline's archive store
(the same COPY plus the offset marks that make a replay store nothing twice), beside
plain ``COPY`` from psql of the same rows as a CSV file -- the limit. Into the real
``balance_ticks`` table: on plain PostgreSQL its index and the daily roll-up triggers
(and again with the triggers off), on TimescaleDB the hypertable (its roll-up is the
continuous aggregates, refreshed by their policy, not on insert).

A scratch database is created on each server and dropped at the end.

    python bench/db_ingest.py [--rows 1000000] [--batch 10000] [--accounts 100]
        [--backends postgresql,timescaledb]
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

from bench._machine import describe, write_result
from infra.db.archive import Archived, ArchiveStore
from infra.db.database import prepare_database
from infra.db.migrate import Backend
from infra.db.pool import Pool, connect, create_pool
from infra.db.scratch import scratch_database
from infra.db.sinks import PostgresSink
from schemas.events import BalanceEvent

ADMIN_URLS: dict[Backend, str] = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "timescaledb": "postgresql://postgres@127.0.0.1:5433/postgres",
}


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


def reset(url: str, *, rollup: bool, backend: Backend) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE balance_ticks")
        conn.execute("TRUNCATE archive_offsets")
        if backend == "postgresql":
            conn.execute("TRUNCATE daily_account_snapshots")
            switch = "ENABLE" if rollup else "DISABLE"
            conn.execute(f"ALTER TABLE balance_ticks {switch} TRIGGER USER")
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


def archive_copy(pool: Pool, ticks: list[BalanceEvent], batch: int) -> Callable[[], None]:
    store = ArchiveStore(pool)
    items = [Archived("aetheris.events[0]", offset, tick) for offset, tick in enumerate(ticks)]

    def run() -> None:
        for start in range(0, len(items), batch):
            store.write(items[start : start + batch])

    return run


def timed(url: str, run: Callable[[], None], rows: int, *, rollup: bool, backend: Backend) -> float:
    reset(url, rollup=rollup, backend=backend)
    began = time.perf_counter()
    run()
    elapsed = time.perf_counter() - began
    if stored(url) != rows:
        raise SystemExit(f"expected {rows} rows stored, found {stored(url)}")
    return rows / elapsed


def bench_backend(
    backend: Backend,
    admin_url: str,
    ticks: list[BalanceEvent],
    csv_path: Path,
    args: argparse.Namespace,
) -> list[tuple[str, float]]:
    results: list[tuple[str, float]] = []
    with scratch_database(admin_url, prefix="aetheris_bench") as url:
        prepare_database(url, timescale="off" if backend == "postgresql" else "require")
        pool = create_pool(url, size=1, name="aetheris-bench")
        try:
            switches = (True, False) if backend == "postgresql" else (True,)
            for rollup in switches:
                if backend == "timescaledb":
                    label = "hypertable"
                elif rollup:
                    label = "with the daily roll-up triggers"
                else:
                    label = "roll-up triggers off"
                runs = [
                    (f"psql \\copy, one COPY of the CSV ({label})", psql_copy(url, csv_path)),
                    (
                        f"PostgresSink, binary COPY, {args.batch:,}-tick batches ({label})",
                        sink_copy(pool, ticks, args.batch),
                    ),
                ]
                if rollup:
                    runs.append(
                        (
                            f"archive store (COPY + offset marks), {args.batch:,}-tick "
                            f"batches ({label})",
                            archive_copy(pool, ticks, args.batch),
                        )
                    )
                for name, run in runs:
                    best = max(
                        timed(url, run, len(ticks), rollup=rollup, backend=backend)
                        for _ in range(args.rounds)
                    )
                    results.append((f"{backend}: {name}", best))
                    print(f"{backend}: {name}: {best:,.0f} ticks/s", flush=True)
        finally:
            pool.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000, help="ticks per sink batch")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--backends", default="postgresql,timescaledb")
    parser.add_argument("--admin-url", default=ADMIN_URLS["postgresql"])
    parser.add_argument("--timescale-admin-url", default=ADMIN_URLS["timescaledb"])
    args = parser.parse_args()
    urls: dict[str, str] = {
        "postgresql": args.admin_url,
        "timescaledb": args.timescale_admin_url,
    }

    print(f"machine: {describe()}")
    began = time.perf_counter()
    ticks = build_ticks(args.rows, args.accounts)
    print(f"built {len(ticks):,} BalanceEvents in {time.perf_counter() - began:.1f}s")
    results: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="aetheris-bench-") as folder:
        csv_path = Path(folder) / "ticks.csv"
        write_csv(ticks, csv_path)
        Path(folder).chmod(0o755)  # psql runs as us, but keep the file readable
        for name in args.backends.split(","):
            if name not in urls:
                parser.error(f"unknown backend {name!r} (postgresql, timescaledb)")
            backend: Backend = "postgresql" if name == "postgresql" else "timescaledb"
            results.extend(bench_backend(backend, urls[name], ticks, csv_path, args))
    write_result("db_ingest", {"args": vars(args), "ticks_per_second": dict(results)})
    print()
    print(f"| path ({args.rows:,} ticks, {args.accounts} accounts) | ticks/s |")
    print("|---|---:|")
    for name, rate in results:
        print(f"| {name} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
