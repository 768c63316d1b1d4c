"""The production API under load: ``aetheris api serve`` (uvicorn) on PostgreSQL, Redis and
Kafka, driven at concurrency 50 by an async HTTP client.

Three loads in one run against the same server: a bare FastAPI route (``/api/v1/health``,
no auth, no database) as the baseline; login (argon2id verification dominates: its cost
is measured alone first); and an authenticated ``GET /accounts/{id}`` (JWT check, session
lookup, owner-filtered account read, live standing from Redis). Figures: requests/s and
p50/p99 latency. A scratch database, Redis prefix and Kafka topics are made for the run.

    python bench/api_auth.py [--workers 2] [--concurrency 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.security import Passwords
from bench._machine import describe, write_result
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.database import prepare_database
from infra.db.scratch import scratch_database
from infra.secrets import new_key

ADMIN_URL = os.environ.get(
    "AETHERIS_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AETHERIS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
PASSWORD = "bench passphrase 0123"  # noqa: S105 - the bench users' own password


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def argon2_cost(rounds: int = 20) -> dict[str, float]:
    """Median milliseconds of one argon2id hash and one verify at the OWASP parameters."""
    passwords = Passwords()
    hashes, verifies = [], []
    stored = passwords.hash(PASSWORD)
    for _ in range(rounds):
        started = time.perf_counter()
        passwords.hash(PASSWORD)
        hashes.append(time.perf_counter() - started)
        started = time.perf_counter()
        passwords.verify(stored, PASSWORD)
        verifies.append(time.perf_counter() - started)
    return {
        "hash_ms": statistics.median(hashes) * 1000,
        "verify_ms": statistics.median(verifies) * 1000,
    }


async def load(
    concurrency: int, seconds: float, request: Callable[[int], Awaitable[httpx.Response]]
) -> dict[str, float]:
    """``concurrency`` clients each sending ``request(client)`` back to back for ``seconds``."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def client(index: int) -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await request(index)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "failures": failures,
        "requests_per_s": len(ordered) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


async def drive(base: str, concurrency: int, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        emails = [f"bench-{i}-{secrets.token_hex(4)}@example.com" for i in range(concurrency)]
        for email in emails:
            answer = await http.post(
                "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
            )
            answer.raise_for_status()
        tokens = []
        for email in emails:
            answer = await http.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            )
            answer.raise_for_status()
            tokens.append({"Authorization": f"Bearer {answer.json()['access_token']}"})
        accounts = []
        for auth in tokens:
            answer = await http.post(
                "/api/v1/accounts",
                headers=auth,
                json={
                    "name": "bench",
                    "ruleset": "ftmo-2step",
                    "initial_balance": 100_000,
                    "currency": "USD",
                },
            )
            answer.raise_for_status()
            accounts.append(answer.json()["id"])

        async def health(_: int) -> httpx.Response:
            return await http.get("/api/v1/health")

        async def login(index: int) -> httpx.Response:
            return await http.post(
                "/api/v1/auth/login", json={"email": emails[index], "password": PASSWORD}
            )

        async def account(index: int) -> httpx.Response:
            return await http.get(f"/api/v1/accounts/{accounts[index]}", headers=tokens[index])

        await load(concurrency, 1.0, health)  # warm-up
        return {
            "bare route (baseline)": await load(concurrency, seconds, health),
            "POST /auth/login": await load(concurrency, seconds, login),
            "GET /accounts/{id} (authenticated)": await load(concurrency, seconds, account),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    cost = argon2_cost()
    suffix = secrets.token_hex(5)
    topics = Topics(
        events=f"bench.events.{suffix}",
        breaches=f"bench.breaches.{suffix}",
        deadletter=f"bench.deadletter.{suffix}",
        partitions=4,
    )
    bus = KafkaBus(KAFKA)
    with scratch_database(ADMIN_URL, prefix="aetheris_bench_api") as url:
        prepare_database(url, timescale="off")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AETHERIS_")}
        env.update(
            DATABASE_URL=url,
            REDIS_URL=REDIS_URL,
            KAFKA_BOOTSTRAP_SERVERS=KAFKA,
            AETHERIS_SECRET_KEY=secrets.token_urlsafe(48),
            AETHERIS_ENCRYPTION_KEYS=new_key(),
            AETHERIS_REDIS_PREFIX=f"bench-{suffix}",
            AETHERIS_DB_TIMESCALE="off",
            AETHERIS_DB_POOL_SIZE="8",
            AETHERIS_TOPIC_EVENTS=topics.events,
            AETHERIS_TOPIC_BREACHES=topics.breaches,
            AETHERIS_TOPIC_DEADLETTER=topics.deadletter,
            AETHERIS_RATE_LIMIT_LOGIN="1000000/minute",
            AETHERIS_RATE_LIMIT_REGISTER="1000000/minute",
        )
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            [
                sys.executable,
                "-m",
                "aetheris.cli",
                "api",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("api serve did not come up")
                time.sleep(0.3)
            figures = asyncio.run(drive(base, args.concurrency, args.seconds))
        finally:
            server.terminate()
            server.wait(30)
            bus.delete_topics(topics.all())
    baseline = figures["bare route (baseline)"]["requests_per_s"]
    print(f"machine: {describe()}")
    print(
        f"argon2id (m=19456 KiB, t=2, p=1), in this process: hash {cost['hash_ms']:.1f} ms, "
        f"verify {cost['verify_ms']:.1f} ms (median of 20)"
    )
    print(
        f"uvicorn workers: {args.workers}; concurrency {args.concurrency}; {args.seconds:g} s each"
    )
    print("| load | requests | req/s | vs bare route | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in figures.items():
        print(
            f"| {name} | {row['requests']} | {row['requests_per_s']:,.0f} | "
            f"{row['requests_per_s'] / baseline:.3f} | {row['p50_ms']:.1f} | "
            f"{row['p99_ms']:.1f} | {row['failures']} |"
        )
    write_result(
        "api_auth",
        {"argon2": cost, "workers": args.workers, "concurrency": args.concurrency, **figures},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
