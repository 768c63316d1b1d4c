"""All accounts as one book (``GET /api/v1/metrics``) against one account's KPIs, in process.

A scratch PostgreSQL database gets ``--accounts`` accounts of one user with ``--days`` days
of history each (``--trades`` closed trades a day, a tick every five minutes: the loader
of ``bench/metrics_api.py``). Then, uncached (the KPI engine runs every time), over the
last 30 days: one account's document (``DatabaseMetrics.kpis``) and the book of all the
accounts (``DatabaseMetrics.book_kpis``), and the book of that one account alone,
``--repeat`` times each, interleaved. Reports
wall-clock medians and this process's CPU seconds per document (the database's own work
runs in its server process and shows only in the wall-clock figure).

    python bench/metrics_book.py [--accounts 10] [--days 60] [--trades 10] [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from api.metrics import DatabaseMetrics
from bench._machine import describe, write_result
from bench.metrics_api import DEFAULT_ADMIN_URL, END, load
from infra.db.database import prepare_database
from infra.db.pool import create_pool
from infra.db.scratch import scratch_database


def _timed(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--trades", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    admin = os.environ.get("AETHERIS_BENCH_ADMIN_URL", DEFAULT_ADMIN_URL)
    print(describe(), "load", os.getloadavg())
    with scratch_database(admin, prefix="aetheris_bench_book") as url:
        prepare_database(url, timescale="off")
        owner = str(uuid.uuid4())
        with psycopg.connect(url) as conn:
            conn.execute("INSERT INTO users (id, email) VALUES (%s, 'bench@example.org')", (owner,))
        loaded = load(url, owner, args.accounts, args.days, args.trades)
        ids = [f"bench_{i:04d}" for i in range(args.accounts)]
        pool = create_pool(url, size=2, name="bench-book")
        try:
            store = DatabaseMetrics(pool)
            since, until = END - timedelta(days=30), END
            one: list[tuple[float, float]] = []
            book: list[tuple[float, float]] = []
            book_of_one: list[tuple[float, float]] = []
            store.kpis(ids[0], since, until)  # warm: imports, plans, caches
            store.book_kpis(ids, since, until, None)
            for round_ in range(args.repeat):
                account = ids[round_ % len(ids)]
                one.append(_timed(partial(store.kpis, account, since, until)))
                book.append(_timed(partial(store.book_kpis, ids, since, until, None)))
                book_of_one.append(_timed(partial(store.book_kpis, [account], since, until, None)))
        finally:
            pool.close()
    result = {
        "loaded": loaded,
        "load_average": os.getloadavg(),
        "one_account": {
            "wall_ms_median": 1_000 * statistics.median(w for w, _ in one),
            "cpu_ms_median": 1_000 * statistics.median(c for _, c in one),
        },
        "book": {
            "accounts": args.accounts,
            "wall_ms_median": 1_000 * statistics.median(w for w, _ in book),
            "cpu_ms_median": 1_000 * statistics.median(c for _, c in book),
        },
        "book_of_one_account": {
            "wall_ms_median": 1_000 * statistics.median(w for w, _ in book_of_one),
            "cpu_ms_median": 1_000 * statistics.median(c for _, c in book_of_one),
        },
        "cpu_seconds_total": time.process_time(),
    }
    print(result)
    write_result("metrics_book", result)


if __name__ == "__main__":
    main()
