"""Webhook delivery through the notify worker, beside bare signed POSTs to the same receiver.

1. Queueing: breaches per second turned into delivery rows (ingest, one transaction per
   batch, with the offsets).
2. Throughput: deliveries per second the worker sends (claim, decrypt, SSRF check, sign,
   POST, record) with its thread pool, beside the same number of signed POSTs sent straight
   with the same HTTP client and the same number of threads (no database) -- the limit.
3. Latency: a breach published on the in-process bus until the receiver has it, one at a
   time, with the worker's loop running; beside the bare POST round trip.

A scratch database is created on the local server and dropped at the end; the receiver
is a threaded HTTP server on 127.0.0.1 (allowed through the allow-list).

    python bench/notify_delivery.py [--breaches 1000] [--endpoints 2] [--latency 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from api.webhooks import WebhookService
from bench._machine import describe, write_result
from infra.bus import InProcessBus
from infra.db.database import prepare_database
from infra.db.pool import connect, create_pool
from infra.db.scratch import scratch_database
from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import cipher_from_secret_key
from infra.notify.http import WebhookHttpClient
from infra.notify.signing import body_bytes, new_secret, signed_headers
from infra.notify.ssrf import SystemResolver, check_url, parse_allowed_networks
from infra.notify.worker import NotifyConfig, NotifyWorker

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL = parse_allowed_networks("127.0.0.0/8")
CIPHER = cipher_from_secret_key(SecretStr("benchmark-secret-key-0123456789"))
CONCURRENCY = 4


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.arrived: dict[str, float] = {}

    def add(self, breach_id: str | None) -> None:
        now = time.perf_counter()
        with self.lock:
            self.count += 1
            if breach_id is not None:
                self.arrived.setdefault(breach_id, now)


def start_receiver(counter: Counter) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                breach_id = json.loads(body)["data"]["breach_id"]
            except (ValueError, KeyError, TypeError):
                breach_id = None
            counter.add(breach_id)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def breach(account_id: str) -> dict[str, Any]:
    return {
        "type": "breach",
        "breach_id": f"bench-{uuid4().hex}",
        "account_id": account_id,
        "rule": "max_daily_loss",
        "level": 3,
        "ts": "2026-03-02T10:12:03Z",
        "value": 5150.0,
        "limit": 5000.0,
        "threshold": 94850.0,
        "message": "Daily loss 5,150.00 reached the limit 5,000.00",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--breaches", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=2)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()

    counter = Counter()
    server, port = start_receiver(counter)
    url = f"http://127.0.0.1:{port}/hook"
    result: dict[str, Any] = {"breaches": args.breaches, "endpoints": args.endpoints}
    with scratch_database(args.admin_url, prefix="aetheris_bench_notify") as db_url:
        prepare_database(db_url, timescale="off")
        pool = create_pool(db_url, size=CONCURRENCY + 2, name="bench-notify")
        with connect(db_url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id"
            ).fetchone()
            assert row is not None
            owner = row[0]
            account = "BENCH-1"
            conn.execute(
                "INSERT INTO accounts (account_id, owner_id, ruleset, initial_balance, currency) "
                "VALUES (%s, %s, 'ftmo-2step', 100000, 'USD')",
                (account, owner),
            )
        service = WebhookService(
            pool, cipher=CIPHER, resolver=SystemResolver(), allowed_networks=LOCAL
        )
        for _ in range(args.endpoints):
            service.register_webhook(owner, url, [3])

        bus = InProcessBus()
        topic = "bench.breaches"
        bus.create_topics([topic], 1)
        worker = NotifyWorker(
            pool=pool,
            bus=bus,
            config=NotifyConfig(
                topic=topic,
                retry=RetryPolicy(base_seconds=0.5, cap_seconds=1.0, max_attempts=5),
                allowed_networks=LOCAL,
                batch_size=64,
                read_batch=500,
                poll_seconds=0.01,
                concurrency=CONCURRENCY,
            ),
            cipher=CIPHER,
            resolver=SystemResolver(),
            http=WebhookHttpClient(timeout_seconds=10.0),
        )
        worker.open_reader(from_beginning=True)
        publisher = bus.publisher()
        events = [breach(account) for _ in range(args.breaches)]
        for event in events:
            publisher.publish(topic, account, json.dumps(event).encode())

        # 1. queueing
        started = time.perf_counter()
        queued = 0
        while queued < args.breaches * args.endpoints:
            queued += worker.ingest_once(timeout=0.5).webhooks_queued
        ingest_seconds = time.perf_counter() - started
        result["queue_breaches_per_s"] = args.breaches / ingest_seconds

        # 2. throughput
        deliveries = args.breaches * args.endpoints
        started = time.perf_counter()
        while counter.count < deliveries:
            worker.deliver_once()
        worker_seconds = time.perf_counter() - started
        result["worker_deliveries_per_s"] = deliveries / worker_seconds

        secret = new_secret()
        target = check_url(url, SystemResolver(), LOCAL)
        client = WebhookHttpClient(timeout_seconds=10.0)

        def bare_post(event: dict[str, Any]) -> bool:
            body = body_bytes({"type": "breach", "data": event})
            headers = signed_headers(secret, f"msg_{uuid4().hex}", datetime.now(UTC), body)
            return client.post(target, body, headers).succeeded

        bare_events = [breach(account) for _ in range(deliveries)]
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool_threads:
            ok = sum(pool_threads.map(bare_post, bare_events))
        bare_seconds = time.perf_counter() - started
        assert ok == deliveries
        result["bare_posts_per_s"] = deliveries / bare_seconds
        result["worker_over_bare"] = result["worker_deliveries_per_s"] / result["bare_posts_per_s"]

        # 3. latency, one breach at a time, the worker's loop running
        stop = threading.Event()
        loop = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        loop.start()
        latencies: list[float] = []
        for _ in range(args.latency):
            event = breach(account)
            sent = time.perf_counter()
            publisher.publish(topic, account, json.dumps(event).encode())
            while event["breach_id"] not in counter.arrived:
                time.sleep(0.0005)
            latencies.append((counter.arrived[event["breach_id"]] - sent) * 1000)
        stop.set()
        loop.join(10)
        bare_latencies: list[float] = []
        for _ in range(args.latency):
            started = time.perf_counter()
            bare_post(breach(account))
            bare_latencies.append((time.perf_counter() - started) * 1000)
        client.close()
        worker.close()
        pool.close()

    server.shutdown()

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "p50_ms": statistics.median(ordered),
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max_ms": ordered[-1],
        }

    result["latency_worker"] = summary(latencies)
    result["latency_bare_post"] = summary(bare_latencies)
    result["worker_poll_seconds"] = 0.01
    path = write_result("notify_delivery", result)
    print(f"machine: {describe()}")
    print(json.dumps(result, indent=1))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
