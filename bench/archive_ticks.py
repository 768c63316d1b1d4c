"""How many balance ticks the production archive keeps per account, by
``AETHERIS_ARCHIVE_TICK_INTERVAL_SECONDS``, and what that costs on disk.

A simulated desk (``connectors.simulator``: random-walk equity, trades, every rule
firing now and then) sends each account's equity ``--rate`` times a second; the
risk engine finds the breaches; :class:`pipelines.archive.ArchiveWriter` decides which
ticks it keeps for each interval, in epochs of one simulated second. The disk bytes per
stored tick are measured by storing every simulated tick (``PostgresSink``) in a scratch
database on each backend -- on TimescaleDB before and after its compression job -- and
turn the counts into bytes per account and day.

    python bench/archive_ticks.py [--accounts 20] [--rate 4] [--hours 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._machine import describe, write_result
from connectors.simulator import SimulatedDesk, to_event
from infra.bus import BusMessage
from infra.db.archive import Archived, ArchiveReport, StatusChange
from infra.db.database import prepare_database
from infra.db.migrate import Backend
from infra.db.pool import connect, create_pool
from infra.db.scratch import scratch_database
from infra.db.sinks import PostgresSink
from infra.db.storage_report import COMPRESSION, run_policy_jobs, tick_bytes
from infra.rulesets import RulesetCatalog
from pipelines.archive import ArchiveInput, ArchiveWriter
from risk_engine import Armor
from schemas import BalanceEvent, event_json

INTERVALS = (0.0, 1.0, 10.0, 60.0)
ADMIN_URLS: dict[Backend, str] = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "timescaledb": "postgresql://postgres@127.0.0.1:5433/postgres",
}


def bytes_per_tick(ticks: list[BalanceEvent]) -> dict[str, float]:
    """Disk bytes per stored tick on each backend (TimescaleDB also compressed)."""
    out: dict[str, float] = {}
    for backend, admin in ADMIN_URLS.items():
        with scratch_database(admin, prefix="aetheris_bench") as url:
            prepare_database(url, timescale="off" if backend == "postgresql" else "require")
            pool = create_pool(url, size=1, name="aetheris-bench")
            try:
                sink = PostgresSink(pool)
                for start in range(0, len(ticks), 10_000):
                    sink.write_ticks(ticks[start : start + 10_000])
            finally:
                pool.close()
            with connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE balance_ticks")
                out[backend] = tick_bytes(conn, backend) / len(ticks)
                if backend == "timescaledb":
                    run_policy_jobs(conn, COMPRESSION)
                    conn.execute("VACUUM ANALYZE balance_ticks")
                    out["timescaledb-compressed"] = tick_bytes(conn, backend) / len(ticks)
        print(f"  {backend}: {out[backend]:.1f} bytes per tick", flush=True)
    return out


class CountingStore:
    def __init__(self) -> None:
        self.ticks = 0

    def write(
        self, items: Sequence[Archived], status_changes: Sequence[StatusChange] = ()
    ) -> ArchiveReport:
        self.ticks += sum(isinstance(item.event, BalanceEvent) for item in items)
        return ArchiveReport()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--rate", type=float, default=4.0, help="ticks per account per second")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours")
    args = parser.parse_args()

    print(f"machine: {describe()}")
    began = time.perf_counter()
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    step = timedelta(seconds=1 / args.rate / args.accounts)
    desk = SimulatedDesk(args.accounts, seed=3, start=start, tick_interval=step)
    end = start + timedelta(hours=args.hours)
    armor = Armor(RulesetCatalog())
    # One epoch per simulated second: (messages, breaches) in read order.
    epochs: list[list[ArchiveInput]] = []
    current: list[ArchiveInput] = []
    epoch_end = start + timedelta(seconds=1)
    ticks = offset = 0
    every_tick: list[BalanceEvent] = []
    for record in desk.records():
        event = to_event(record)
        ts = event.ts if isinstance(event, BalanceEvent) else None
        if ts is not None and ts >= end:
            break
        if ts is not None and ts >= epoch_end:
            epochs.append(current)
            current = []
            epoch_end = ts.replace(microsecond=0) + timedelta(seconds=1)
        if isinstance(event, BalanceEvent):
            ticks += 1
            every_tick.append(event)
        value = event_json(event).encode()
        current.append(BusMessage("events", 0, offset, event.account_id.encode(), value))
        current.extend(armor.process(event))
        offset += 1
    epochs.append(current)
    breaches = sum(1 for epoch in epochs for item in epoch if not isinstance(item, BusMessage))
    print(
        f"simulated {ticks:,} ticks, {breaches:,} breaches, {offset:,} events "
        f"in {time.perf_counter() - began:.1f}s"
    )

    costs = bytes_per_tick(every_tick)
    per_account_day = 24 / args.hours / args.accounts
    rows: list[dict[str, float]] = []
    for interval in INTERVALS:
        store = CountingStore()
        writer = ArchiveWriter(store, tick_interval_seconds=interval)
        for epoch in epochs:
            writer.write(epoch)
            writer.unconfirmed()
        writer.close()
        kept = store.ticks * per_account_day
        row = {"interval_seconds": interval, "kept_ticks": store.ticks, "per_account_day": kept}
        row.update({f"bytes_{name}": kept * cost for name, cost in costs.items()})
        rows.append(row)
    write_result("archive_ticks", {"args": vars(args), "bytes_per_tick": costs, "rows": rows})

    print()
    names = list(costs)
    print(
        f"| interval ({args.accounts} accounts, {args.rate:g} ticks/s each) | ticks kept per "
        "account-day | " + " | ".join(f"MB per account-day, {n}" for n in names) + " |"
    )
    print("|---|---:|" + "---:|" * len(names))
    for row in rows:
        label = (
            "every tick (0)" if row["interval_seconds"] == 0 else f"{row['interval_seconds']:g} s"
        )
        cells = " | ".join(f"{row[f'bytes_{n}'] / 1e6:,.2f}" for n in names)
        print(f"| {label} | {row['per_account_day']:,.0f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
