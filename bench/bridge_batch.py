"""MetaTrader bridge batches end to end (verify the signature, parse, validate, dedup,
publish, store, sync log) in deals per second, beside the pure parse of the same batches
in the same run (the limit), and a second pass of the same deals (all duplicates).

Batches of 5,000 deals (2,500 positions opened and closed; the parser's cap); a scratch
database is created and dropped; events go to a fresh Kafka topic.

    python bench/bridge_batch.py [--batches 4]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aetheris.brokers import MetaTraderIngest
from api.bridgeauth import new_bridge_key, sign, verify
from bench._machine import describe
from connectors.metatrader.bridge import parse_batch, read_batch
from connectors.statements.model import ParseContext
from infra.bus import EventPublisher, Topics
from infra.bus.kafka import KafkaBus
from infra.db.database import prepare_database
from infra.db.pool import create_pool
from infra.db.scratch import scratch_database

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSITIONS_PER_BATCH = 2_500
START = int(datetime(2025, 1, 6, 10, 0, tzinfo=UTC).timestamp())


def batch(number: int) -> bytes:
    deals = []
    for p in range(POSITIONS_PER_BATCH):
        position = number * POSITIONS_PER_BATCH + p
        opened = START + 60 * position
        side, other = ("buy", "sell") if position % 2 else ("sell", "buy")
        common = {"position": str(position), "symbol": "EURUSD", "volume": 0.1}
        deals.append(
            {
                **common,
                "deal": f"{position}1",
                "time": opened,
                "type": side,
                "entry": "in",
                "price": 1.085,
                "commission": -0.35,
            }
        )
        deals.append(
            {**common, "deal": f"{position}2", "time": opened + 30, "type": other,
             "entry": "out", "price": 1.0855, "commission": -0.35, "profit": 5.0}
        )  # fmt: skip
    body = {"batch_id": f"bench-{number:06d}", "server_offset_seconds": 7200, "deals": deals}
    return json.dumps(body).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    print(describe())
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    bodies = [batch(n) for n in range(args.batches)]
    deals = args.batches * POSITIONS_PER_BATCH * 2
    key = new_bridge_key().encode()

    started = time.perf_counter()
    for body in bodies:
        parse_batch(read_batch(body), ParseContext("BENCH-BRIDGE"))
    parse_seconds = time.perf_counter() - started

    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    bus = KafkaBus(servers)
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(
        events=f"bench.events.{suffix}",
        breaches=f"bench.breaches.{suffix}",
        deadletter=f"bench.deadletter.{suffix}",
        partitions=4,
    )
    bus.create_topics(topics.all(), 4)
    with scratch_database(args.admin_url, prefix="aetheris_bench_bridge") as url:
        prepare_database(url, timescale="off")
        pool = create_pool(url, size=2, name="bench-bridge")
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO accounts (account_id, ruleset, initial_balance, currency) "
                "VALUES ('BENCH-BRIDGE', 'ftmo-2step', 100000, 'USD')"
            )
        publisher = EventPublisher(bus.publisher(), topics)
        ingest = MetaTraderIngest(pool, publisher)
        passes: list[tuple[float, float, int, int]] = []
        for _ in range(2):  # the second pass: every deal is a duplicate
            new = duplicates = 0
            cpu, started = time.process_time(), time.perf_counter()
            for body in bodies:
                stamp = str(int(time.time()))
                verify(key, stamp, body, sign(key, stamp, body))
                accepted = ingest.ingest("BENCH-BRIDGE", body, datetime.now(UTC))
                new += accepted.new
                duplicates += accepted.duplicates
            passes.append(
                (time.perf_counter() - started, time.process_time() - cpu, new, duplicates)
            )
        publisher.close()
        pool.close()
    bus.delete_topics(list(topics.all()))
    bus.close()
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"parse only: {deals:,} deals in {parse_seconds:.2f} s = "
        f"{deals / parse_seconds:,.0f} deals/s"
    )
    for name, (seconds, cpu, new, duplicates) in zip(("first", "again"), passes, strict=True):
        print(
            f"end to end ({name} pass): {deals:,} deals ({new:,} new trades, {duplicates:,} "
            f"duplicates) in {seconds:.2f} s = {deals / seconds:,.0f} deals/s "
            f"({parse_seconds / seconds:.0%} of parse only); this process's CPU {cpu:.2f} s"
        )


if __name__ == "__main__":
    main()
