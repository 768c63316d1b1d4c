"""Fan-out latency: a breach on the topic to 1,000 WebSocket clients over two API processes.

Runs the production system on the real services: ``aetheris pipeline run`` and two
``aetheris api serve`` processes (Kafka, Redis and a scratch PostgreSQL database,
dropped at the end). One user's account is watched by ``--clients`` WebSockets, half on
each API process. Each round publishes two ticks to the events topic: the day's first,
then a loss that raises the daily-loss rule's level 1, so every round makes one breach
(a new trading day each round). For every client the bench records when the breach
arrived and reports, over all clients and rounds, p50 / p99 / max of

- breach on the topic -> client: from the breach message's Kafka timestamp (set by the
  pipeline's producer) to the client's receipt;
- tick -> client: from just before the tick is published to the client's receipt;

beside, in the same run, the broker-only round trip (produce, then consume, one message
at a time) and a bare Redis PUBLISH -> subscriber, on the same Kafka and Redis. All
clocks are this host's. The clients run in this process (one asyncio loop), so their
own reading is part of the figure.

    python bench/fanout.py [--clients 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import redis
from websockets.asyncio.client import ClientConnection, connect

from bench._machine import describe, write_result
from infra.bus import BEGINNING, Topics
from infra.bus.kafka import KafkaBus
from infra.db.database import prepare_database
from infra.db.scratch import scratch_database
from infra.secrets import new_key
from schemas import BalanceEvent, event_json

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET_KEY = "bench-signing-key-" + "0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD = "correct horse battery staple"  # noqa: S105 - the bench user of a scratch database
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def percentiles(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    if not ordered:
        return {"count": 0}
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"api serve did not come up: {log.read_text()[-2000:]}")
        time.sleep(0.3)


def broker_round_trips(kafka: KafkaBus, topic: str, count: int) -> list[float]:
    """Produce one message, wait until a reader has it; ``count`` times (ms)."""
    publisher = kafka.publisher()
    reader = kafka.reader(topic, dict.fromkeys(range(kafka.partition_count(topic)), BEGINNING))
    times: list[float] = []
    try:
        reader.read(100, 1.0)  # joined, at the end
        for number in range(count):
            started = time.perf_counter()
            publisher.publish(topic, "rt", f"{number}".encode())
            publisher.flush()
            while not reader.read(10, 0.05):
                pass
            times.append((time.perf_counter() - started) * 1000)
    finally:
        reader.close()
    return times


def redis_round_trips(url: str, channel: str, count: int) -> list[float]:
    """PUBLISH, until a subscriber on another connection has it; ``count`` times (ms)."""
    subscriber: redis.Redis[bytes] = redis.Redis.from_url(url)
    publisher: redis.Redis[bytes] = redis.Redis.from_url(url)
    pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1.0)
    times: list[float] = []
    try:
        for number in range(count):
            started = time.perf_counter()
            publisher.publish(channel, str(number))
            while pubsub.get_message(timeout=1.0) is None:
                pass
            times.append((time.perf_counter() - started) * 1000)
    finally:
        pubsub.close()
        subscriber.close()
        publisher.close()
    return times


class Clients:
    """``count`` sockets on the API processes; each breach's arrival time per client."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.connected = 0
        self.closed: list[str] = []

    async def run_one(self, url: str, ticket: str, ready: asyncio.Event) -> None:
        try:
            socket_: ClientConnection = await connect(
                url, open_timeout=60, compression=None, max_queue=256
            )
        except Exception as exc:
            self.closed.append(f"connect: {exc}")
            return
        await socket_.send(json.dumps({"type": "auth", "ticket": ticket}))
        try:
            async for raw in socket_:
                arrived = time.time()
                text = raw if isinstance(raw, str) else raw.decode("utf-8")
                if text.startswith('{"kind":"snapshot"'):
                    self.connected += 1
                    if self.connected == self.expected:
                        ready.set()
                elif text.startswith('{"kind":"breach"'):
                    breach_id = json.loads(text)["breach"]["breach_id"]
                    self.arrivals.setdefault(breach_id, []).append(arrived)
        except Exception as exc:
            self.closed.append(str(exc))

    expected = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()

    suffix = uuid.uuid4().hex[:8]
    topics = Topics(
        events=f"bench.events.{suffix}",
        breaches=f"bench.breaches.{suffix}",
        deadletter=f"bench.deadletter.{suffix}",
        partitions=2,
        status=f"bench.status.{suffix}",
    )
    prefix = f"bench-{suffix}"
    kafka = KafkaBus(args.kafka)
    kafka.create_topics([*topics.all(), f"bench.rtt.{suffix}"], 2)
    processes: list[subprocess.Popen[bytes]] = []
    log = Path(tempfile.mkdtemp(prefix="aetheris-fanout-")) / "system.log"
    result: dict[str, Any] = {
        "clients": args.clients,
        "rounds": args.rounds,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        with scratch_database(args.admin_url, prefix="aetheris_bench") as database_url:
            prepare_database(database_url, timescale="off")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AETHERIS_", "KAFKA_"))}
            env.update(
                KAFKA_BOOTSTRAP_SERVERS=args.kafka,
                REDIS_URL=args.redis,
                AETHERIS_REDIS_PREFIX=prefix,
                AETHERIS_TOPIC_EVENTS=topics.events,
                AETHERIS_TOPIC_BREACHES=topics.breaches,
                AETHERIS_TOPIC_DEADLETTER=topics.deadletter,
                AETHERIS_TOPIC_STATUS=topics.status or "",
                AETHERIS_TOPIC_PARTITIONS="2",
                AETHERIS_DB_TIMESCALE="off",
                PYTHONUNBUFFERED="1",
            )
            api_env = {
                **env,
                "DATABASE_URL": database_url,
                "AETHERIS_SECRET_KEY": SECRET_KEY,
                "AETHERIS_ENCRYPTION_KEYS": new_key(),
                "AETHERIS_RATE_LIMIT_WS_TICKET": "100000/minute",
                "AETHERIS_WS_QUEUE_SIZE": "1024",
            }

            def start(cli: list[str], environment: dict[str, str]) -> subprocess.Popen[bytes]:
                with log.open("ab") as out:
                    process = subprocess.Popen(  # noqa: S603 - our own CLI
                        [sys.executable, "-m", "aetheris.cli", *cli],
                        cwd=REPO,
                        env=environment,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                processes.append(process)
                return process

            start(["pipeline", "run", "--no-database"], env)
            bases = []
            for _ in range(2):
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                wait_healthy(base, start(["api", "serve", "--port", str(port)], api_env), log)
                bases.append(base)

            http = httpx.Client(timeout=30)
            email = f"bench-{suffix}@example.com"
            http.post(
                f"{bases[0]}/api/v1/auth/register", json={"email": email, "password": PASSWORD}
            )
            tokens = http.post(
                f"{bases[0]}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            ).json()
            auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            created = http.post(
                f"{bases[0]}/api/v1/accounts",
                headers=auth,
                json={
                    "name": "bench",
                    "ruleset": "ftmo-2step",
                    "initial_balance": 100_000,
                    "currency": "USD",
                },
            )
            account = created.json()["id"]
            tickets = [
                (
                    bases[n % 2],
                    http.post(f"{bases[n % 2]}/api/v1/realtime/ticket", headers=auth).json()[
                        "ticket"
                    ],
                )
                for n in range(args.clients)
            ]
            http.close()

            clients = Clients()
            clients.expected = args.clients
            publisher = kafka.publisher()
            sent: dict[int, float] = {}

            async def scenario() -> None:
                ready = asyncio.Event()
                sockets = []
                for base, ticket in tickets:
                    url = f"{base.replace('http', 'ws')}/ws/realtime/{account}"
                    sockets.append(asyncio.create_task(clients.run_one(url, ticket, ready)))
                    await asyncio.sleep(0.002)  # connect gradually
                await asyncio.wait_for(ready.wait(), 120)
                await asyncio.sleep(1.0)
                for number in range(args.rounds):
                    day = START + timedelta(days=number)
                    first = event_json(
                        BalanceEvent(
                            account_id=account, ts=day, balance=100_000.0, equity=100_000.0
                        )
                    )
                    loss = event_json(
                        BalanceEvent(
                            account_id=account,
                            ts=day + timedelta(minutes=5),
                            balance=100_000.0,
                            equity=96_400.0,
                        )
                    )
                    await asyncio.to_thread(_publish, publisher, topics.events, account, first)
                    await asyncio.sleep(0.3)
                    sent[number] = time.time()
                    await asyncio.to_thread(_publish, publisher, topics.events, account, loss)
                    await asyncio.sleep(1.0)
                await asyncio.sleep(2.0)
                for task in sockets:
                    task.cancel()
                await asyncio.gather(*sockets, return_exceptions=True)

            asyncio.run(scenario())

            breach_times = _breach_timestamps(kafka, topics.breaches)
            from_topic: list[float] = []
            from_tick: list[float] = []
            complete = 0
            for breach_id, arrivals in clients.arrivals.items():
                on_topic = breach_times.get(breach_id)
                if len(arrivals) == args.clients:
                    complete += 1
                if on_topic is not None:
                    from_topic += [(at - on_topic) * 1000 for at in arrivals]
            ordered = sorted(clients.arrivals.items(), key=lambda item: min(item[1]))
            for number, (_, arrivals) in enumerate(ordered):
                if number in sent:
                    from_tick += [(at - sent[number]) * 1000 for at in arrivals]
            result.update(
                breaches=len(clients.arrivals),
                breaches_reaching_every_client=complete,
                clients_connected=clients.connected,
                clients_failed=len(clients.closed),
                breach_topic_to_client=percentiles(from_topic),
                tick_to_client=percentiles(from_tick),
            )
            result["broker_round_trip"] = percentiles(
                broker_round_trips(kafka, f"bench.rtt.{suffix}", 200)
            )
            result["redis_publish_subscribe"] = percentiles(
                redis_round_trips(args.redis, f"{prefix}:rtt", 200)
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        kafka.delete_topics([*topics.all(), f"bench.rtt.{suffix}"])
        client: redis.Redis[bytes] = redis.Redis.from_url(args.redis)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"machine: {describe()}")
    print(json.dumps(result, indent=1))
    print(f"written to {write_result('fanout', result)}")
    return 0


def _publish(publisher: Any, topic: str, key: str, line: str) -> None:
    publisher.publish(topic, key, line.encode("utf-8"))
    publisher.flush()


def _breach_timestamps(kafka: KafkaBus, topic: str) -> dict[str, float]:
    """Each breach's Kafka timestamp (seconds), read from the breaches topic."""
    reader = kafka.reader(topic, dict.fromkeys(range(kafka.partition_count(topic)), BEGINNING))
    found: dict[str, float] = {}
    try:
        quiet = 0
        while quiet < 5:
            batch = reader.read(1_000, 0.3)
            quiet = 0 if batch else quiet + 1
            for message in batch:
                body = json.loads(message.value or b"{}")
                if message.timestamp_ms is not None and "breach_id" in body:
                    found[body["breach_id"]] = message.timestamp_ms / 1000
    finally:
        reader.close()
    return found


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
