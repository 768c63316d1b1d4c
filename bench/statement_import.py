"""Statement imports end to end (parse, validate, dedup, publish, store, sync log) in
rows per second: a generated generic CSV (default 1,000,000 rows) beside polars' own
``read_csv`` of the same file in the same run (the limit), and a generated MT5 Trade
History Report (default 100,000 deals: 50,000 positions opened and closed).

A scratch database is created on the server and dropped at the end; events go to a
fresh Kafka topic when a broker answers (KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092),
else to the in-process bus (the output says which).

Two more limits of the CSV import, measured in the same run: **the database alone**
(PostgreSQL taking the import's stored trades and balance ticks again, for another
registered account, by plain COPY into the same tables in one transaction: no staging,
no conflict check, the tables' own indexes and triggers) and **the bus alone** (the
import's published lines produced again to a fresh topic by a bare librdkafka producer
with the publisher's settings, flushed). No import can store or publish faster than
these; the import does both, at the same time.

    python bench/statement_import.py [--rows 1000000] [--deals 100000] [--bus memory]
        [--admin-url postgresql://postgres@127.0.0.1:5433/postgres]   # TimescaleDB
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl
import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from psycopg.rows import TupleRow

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


class RecordingPublisher(EventPublisher):
    """Keeps the lines the import publishes in bulk (for the bus's own limit)."""

    lines: list[bytes]

    def publish_lines(self, key: str, lines: Sequence[bytes]) -> int:
        self.lines = list(lines)
        return super().publish_lines(key, lines)


def backend_cpu(conn: psycopg.Connection[TupleRow]) -> float:
    """CPU seconds of this connection's server process so far (same host)."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    fields = Path(f"/proc/{row[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_TRADE_COLUMNS = (
    "broker_trade_id, status, symbol, side, quantity, entry_price, entry_time, exit_price, "
    "exit_time, pnl, commission, swap, stop_loss, take_profit, notes, source"
)
_COPY_OUT = (
    "COPY (SELECT %s, broker_trade_id, status, symbol, side, quantity, entry_price, "
    "entry_time, exit_price, exit_time, pnl, commission, swap, stop_loss, take_profit, notes, "
    "source FROM trades WHERE account_id = %s) TO STDOUT",
    "COPY (SELECT %s, ts, balance, equity FROM balance_ticks WHERE account_id = %s) TO STDOUT",
)
_COPY_IN = (
    "COPY trades (account_id, " + _TRADE_COLUMNS + ") FROM STDIN",
    "COPY balance_ticks (account_id, ts, balance, equity) FROM STDIN",
)


def database_alone(url: str, account: str, copy_to: str) -> tuple[float, float]:
    """Wall and server CPU seconds for PostgreSQL to take ``account``'s stored trades and
    ticks again under ``copy_to`` (registered alike) by plain COPY, in one transaction."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO accounts (account_id, ruleset, initial_balance, currency) "
            "SELECT %s, ruleset, initial_balance, currency FROM accounts WHERE account_id = %s",
            (copy_to, account),
        )
        conn.commit()
        blocks = []
        for query in _COPY_OUT:
            with conn.cursor().copy(query, (copy_to, account)) as copy:
                blocks.append(b"".join(bytes(b) for b in copy))
        cpu, started = backend_cpu(conn), time.perf_counter()
        with conn.cursor() as cur:
            for query, block in zip(_COPY_IN, blocks, strict=True):
                with cur.copy(query) as copy:
                    copy.write(block)
        conn.commit()
        return time.perf_counter() - started, backend_cpu(conn) - cpu


def bus_alone(bus: Bus, topic: str, key: str, lines: list[bytes]) -> float:
    """Wall seconds for a bare producer (the publisher's settings) to send ``lines``."""
    if not isinstance(bus, KafkaBus):
        return float("nan")
    producer = Producer(bus.producer_config())
    encoded = key.encode()
    started = time.perf_counter()
    for n, line in enumerate(lines, start=1):
        while True:
            try:
                producer.produce(topic, line, encoded)
            except BufferError:
                producer.poll(0.05)
                continue
            break
        if n % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return time.perf_counter() - started


def run_import(
    pool: object, bus: Bus, topics: Topics, request: ImportRequest
) -> tuple[float, dict[str, float], ImportResult, list[bytes]]:
    stages: dict[str, float] = {}
    publisher = RecordingPublisher(bus.publisher(), topics)
    publisher.lines = []
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
    return seconds, stages, result, publisher.lines


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
        backend = prepare_database(url, timescale="auto").backend
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
        csv_seconds, csv_stages, csv_result, lines = run_import(pool, bus, topics, csv_request)
        csv_new = csv_result.new
        db_seconds, db_cpu = database_alone(url, "BENCH-CSV", "BENCH-CSV-AGAIN")
        bus_topic = f"bench.alone.{suffix}"
        bus.create_topics([bus_topic], 4)
        bus_seconds = bus_alone(bus, bus_topic, "BENCH-CSV", lines)
        again_seconds, again_stages, again, _ = run_import(pool, bus, topics, csv_request)
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
        mt5_seconds, mt5_stages, mt5_result, _ = run_import(pool, bus, topics, mt5_request)
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
    print(f"bus: {bus_name}; database backend: {backend} ({args.admin_url.split('@')[-1]})")
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
        f"  the database alone (plain COPY of the same {csv_new:,} trades and ticks): "
        f"{db_seconds:.1f} s, server CPU {db_cpu:.1f} s = {args.rows / db_seconds:,.0f} rows/s; "
        f"the bus alone ({len(lines):,} lines): {bus_seconds:.1f} s = "
        f"{args.rows / bus_seconds:,.0f} rows/s"
    )
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
        bus.delete_topics([*topics.all(), f"bench.alone.{suffix}"])
    bus.close()


if __name__ == "__main__":
    main()
