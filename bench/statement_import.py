"""Statement imports end to end (parse, validate, dedup, publish, store, sync log) in
rows per second: a generated generic CSV (default 1,000,000 rows) beside polars' own
``read_csv`` of the same file in the same run (the limit), and a generated MT5 Trade
History Report (default 100,000 deals: 50,000 positions opened and closed).

A scratch database is created on the server and dropped at the end; events go to a
fresh Kafka topic when a broker answers (KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092),
else to the in-process bus (the output says which).

    python bench/statement_import.py [--rows 1000000] [--deals 100000] [--bus memory]
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl
from confluent_kafka.admin import AdminClient

from bench._machine import describe
from connectors.statements.importer import (
    ImportRequest,
    ImportResult,
    Registration,
    import_statement,
)
from connectors.statements.timezones import resolve_timezone
from infra.bus import Bus, EventPublisher, Topics
from infra.bus.kafka import KafkaBus
from infra.bus.memory import InProcessBus
from infra.db.database import prepare_database
from infra.db.pool import create_pool
from infra.db.scratch import scratch_database

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CPU_KEY = "(this process's CPU)"
START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)  # written without the zone (file time)


def generic_csv(rows: int) -> bytes:
    """Closed futures trades, one every 30 seconds, with the contract's own headers."""
    lines = [
        "broker_trade_id,symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,"
        "pnl,commission,swap"
    ]
    symbols = ("ES", "NQ", "CL", "MES")
    for n in range(rows):
        opened = START + timedelta(seconds=30 * n)
        closed = opened + timedelta(seconds=5 + n % 20)
        entry = 5000 + (n % 400) * 0.25
        move = ((n * 7919) % 41 - 20) * 0.25
        lines.append(
            f"T{n},{symbols[n % 4]},{'long' if n % 3 else 'short'},{1 + n % 3},"
            f"{opened:%Y-%m-%d %H:%M:%S},{entry:.2f},{closed:%Y-%m-%d %H:%M:%S},"
            f"{entry + move:.2f},{move * 50 - 4.2:.2f},-4.20,0"
        )
    return ("\n".join(lines) + "\n").encode()


def mt5_report(deals: int) -> bytes:
    """A Trade History Report with deals/2 positions (one in and one out deal each) and
    the deposit, as the terminal saves it: UTF-16LE HTML."""
    positions = deals // 2
    out = [
        "<html><head><title>1: Bench - Trade History Report</title></head><body><table>\n",
        '<tr><th colspan="14"><b>Trade History Report</b></th></tr>\n',
        '<tr><th colspan="4">Account:</th><th colspan="10"><b>1 (USD, Bench, Hedge)</b></th>'
        "</tr>\n",
        '<tr><th colspan="14"><b>Positions</b></th></tr>\n<tr>'
        + "".join(
            f"<td><b>{h}</b></td>"
            for h in ("Time", "Position", "Symbol", "Type", "Volume", "Price", "S / L",
                      "T / P", "Time", "Price", "Commission", "Swap", "Profit")
        )
        + "</tr>\n",
    ]  # fmt: skip
    deal_rows = [
        f"<tr><td>{START:%Y.%m.%d %H:%M:%S}</td><td>1</td><td></td><td>balance</td><td></td>"
        "<td></td><td></td><td></td><td>0.00</td><td>0.00</td><td>0.00</td>"
        "<td>100 000.00</td><td>100 000.00</td><td>Deposit</td></tr>\n"
    ]
    for n in range(positions):
        opened = START + timedelta(minutes=2 * n + 1)
        closed = opened + timedelta(seconds=45)
        side = "buy" if n % 2 else "sell"
        close_side = "sell" if n % 2 else "buy"
        entry = 1.08 + (n % 500) * 0.00001
        exit_price = entry + ((n * 7919) % 41 - 20) * 0.00001
        profit = (exit_price - entry) * 100000 * (1 if side == "buy" else -1)
        pid = 10 + 2 * n
        out.append(
            f'<tr bgcolor="#FFFFFF" align="right"><td>{opened:%Y.%m.%d %H:%M:%S}</td>'
            f"<td>{pid}</td><td>EURUSD</td><td>{side}</td><td>1</td><td>{entry:.5f}</td>"
            f'<td></td><td></td><td class="hidden" colspan="3"></td>'
            f"<td>{closed:%Y.%m.%d %H:%M:%S}</td><td>{exit_price:.5f}</td><td>-7.00</td>"
            f"<td>0.00</td><td>{profit:.2f}</td></tr>\n"
        )
        deal_rows.append(
            f"<tr><td>{opened:%Y.%m.%d %H:%M:%S}</td><td>{pid}</td><td>EURUSD</td>"
            f"<td>{side}</td><td>in</td><td>1</td><td>{entry:.5f}</td><td>{pid}</td>"
            "<td>-3.50</td><td>0.00</td><td>0.00</td><td>0.00</td><td></td><td></td></tr>\n"
        )
        deal_rows.append(
            f"<tr><td>{closed:%Y.%m.%d %H:%M:%S}</td><td>{pid + 1}</td><td>EURUSD</td>"
            f"<td>{close_side}</td><td>out</td><td>1</td><td>{exit_price:.5f}</td>"
            f"<td>{pid + 1}</td><td>-3.50</td><td>0.00</td><td>0.00</td><td>{profit:.2f}</td>"
            f"<td></td><td>{html.escape('')}</td></tr>\n"
        )
    out.append('<tr><th colspan="14"><b>Deals</b></th></tr>\n<tr>')
    out.append(
        "".join(
            f"<td><b>{h}</b></td>"
            for h in ("Time", "Deal", "Symbol", "Type", "Direction", "Volume", "Price",
                      "Order", "Commission", "Fee", "Swap", "Profit", "Balance", "Comment")
        )
        + "</tr>\n"
    )  # fmt: skip
    out.extend(deal_rows)
    out.append("</table></body></html>\n")
    return b"\xff\xfe" + "".join(out).encode("utf-16-le")


def open_bus(kind: str) -> tuple[Bus, str]:
    if kind == "memory":
        return InProcessBus(), "the in-process bus (--bus memory)"
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    try:
        AdminClient({"bootstrap.servers": servers, "socket.timeout.ms": 3000}).list_topics(
            timeout=5
        )
        return KafkaBus(servers), f"Kafka at {servers}"
    except Exception as exc:
        print(f"(no Kafka broker: {exc}; using the in-process bus)")
        return InProcessBus(), "the in-process bus"


def run_import(
    pool: object, bus: Bus, topics: Topics, request: ImportRequest
) -> tuple[float, dict[str, float], ImportResult]:
    stages: dict[str, float] = {}
    publisher = EventPublisher(bus.publisher(), topics)
    cpu = time.process_time()
    started = time.perf_counter()
    result = import_statement(
        request,
        pool=pool,  # type: ignore[arg-type]
        publisher=publisher,
        now=datetime.now(UTC),
        stages=stages,
    )
    seconds = time.perf_counter() - started
    stages[CPU_KEY] = time.process_time() - cpu
    publisher.close()
    assert not result.errors, result.errors[:3]
    return seconds, stages, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--bus", choices=("kafka", "memory"), default="kafka")
    args = parser.parse_args()
    print(describe())
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    bus, bus_name = open_bus(args.bus)
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(
        events=f"bench.events.{suffix}",
        breaches=f"bench.breaches.{suffix}",
        deadletter=f"bench.deadletter.{suffix}",
        partitions=4,
    )
    bus.create_topics(topics.all(), 4)
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.admin_url, prefix="aetheris_bench") as url,
    ):
        prepare_database(url, timescale="off")
        pool = create_pool(url, size=2, name="bench")
        csv_path = Path(tmp) / "trades.csv"
        csv_path.write_bytes(generic_csv(args.rows))
        size_mb = csv_path.stat().st_size / 1e6

        started = time.perf_counter()
        frame = pl.read_csv(csv_path)
        polars_seconds = time.perf_counter() - started
        assert frame.height == args.rows

        csv_request = ImportRequest(
            data=csv_path.read_bytes(),
            filename=csv_path.name,
            account_id="BENCH-CSV",
            format_name="generic-csv",
            registration=Registration("topstep-50k", 50_000),
        )
        csv_seconds, csv_stages, csv_result = run_import(pool, bus, topics, csv_request)
        csv_new = csv_result.new
        again_seconds, again_stages, again = run_import(pool, bus, topics, csv_request)
        assert (again.new, again.duplicates) == (0, args.rows), again

        mt5_data = mt5_report(args.deals)
        mt5_request = ImportRequest(
            data=mt5_data,
            filename="ReportHistory-bench.html",
            account_id="BENCH-MT5",
            format_name="mt5-html",
            timezone=resolve_timezone("GMT+2/+3-US"),
            registration=Registration("ftmo-2step", 100_000),
        )
        mt5_seconds, mt5_stages, mt5_result = run_import(pool, bus, topics, mt5_request)
        mt5_new = mt5_result.new
        pool.close()

    def stages_line(stages: dict[str, float]) -> str:
        return (
            ", ".join(
                f"{name} {seconds:.1f} s (CPU {stages.get('cpu:' + name, 0.0):.1f} s)"
                for name, seconds in stages.items()
                if not name.startswith(("cpu:", "("))
            )
            + f"; whole run CPU {stages[CPU_KEY]:.1f} s"
        )

    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"bus: {bus_name}")
    print(
        f"polars read_csv: {args.rows:,} rows ({size_mb:.0f} MB) in {polars_seconds:.2f} s "
        f"= {args.rows / polars_seconds:,.0f} rows/s"
    )
    print(
        f"generic-csv import: {args.rows:,} rows ({csv_new:,} new) in {csv_seconds:.1f} s = "
        f"{args.rows / csv_seconds:,.0f} rows/s ({polars_seconds / csv_seconds:.1%} of polars); "
        f"{args.rows / csv_stages[CPU_KEY]:,.0f} rows per CPU-second of this process"
    )
    print(f"  stages: {stages_line(csv_stages)}")
    print(
        f"generic-csv re-import (all {again.duplicates:,} rows duplicates, nothing published "
        f"or stored) in {again_seconds:.1f} s = {args.rows / again_seconds:,.0f} rows/s"
    )
    print(f"  stages: {stages_line(again_stages)}")
    print(
        f"mt5-html import: {args.deals:,} deals ({len(mt5_data) / 1e6:.0f} MB UTF-16, "
        f"{mt5_new:,} new trades+cash) in {mt5_seconds:.1f} s = "
        f"{args.deals / mt5_seconds:,.0f} deals/s; "
        f"{args.deals / mt5_stages[CPU_KEY]:,.0f} deals per CPU-second of this process"
    )
    print(f"  stages: {stages_line(mt5_stages)}")
    if hasattr(bus, "delete_topics"):
        bus.delete_topics(list(topics.all()))
    bus.close()


if __name__ == "__main__":
    main()
