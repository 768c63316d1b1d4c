"""``GET /api/v1/metrics/{id}`` under an open-loop load, on a loaded database.

A scratch database gets ``--accounts`` accounts of one user, each with ``--days`` days
of history: ``--trades`` closed trades a day and a balance tick every five minutes. A
real ``aetheris api serve --workers N`` serves it (PostgreSQL, Redis and Kafka on this
machine). Then, for ``--seconds`` each:

1. service time: one request at a time (closed loop), uncached and cached, to see what
   one request costs;
2. ``GET /api/v1/health`` at ``--rate`` requests per second (the server's floor);
3. ``GET /api/v1/metrics/{id}?from=&to=`` (the last 30 days of a random account) at
   ``--rate`` requests per second: after the first request per account, from the KPI
   cache (the fingerprint query and a Redis GET);
4. the same route with a range of its own per request (nothing cached: the KPI engine
   runs every time) at ``--cold-rate`` requests per second.

Requests are sent on a fixed schedule whatever the answers (open loop), and latency is
measured from the moment a request was due, so a server that falls behind shows it
(no coordinated omission).

    python bench/metrics_api.py [--accounts 100] [--days 60] [--trades 10] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg

from bench._machine import describe, write_result
from infra.db.database import prepare_database
from infra.db.scratch import scratch_database
from infra.secrets import new_key

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-" + secrets.token_hex(12)
END = datetime(2026, 3, 31, 0, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def load(url: str, owner: str, accounts: int, days: int, trades_per_day: int) -> dict[str, int]:
    """Accounts, closed trades and five-minute balance ticks, with COPY."""
    rng = random.Random(7)
    ids = [f"bench_{i:04d}" for i in range(accounts)]
    trades = ticks = 0
    start = END - timedelta(days=days)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY accounts (account_id, owner_id, ruleset, initial_balance, currency) FROM STDIN"
        ) as copy:
            for account in ids:
                copy.write_row((account, owner, "ftmo-2step", 100_000, "USD"))
        for account in ids:
            balance = 100_000.0
            with conn.cursor().copy(
                "COPY trades (account_id, broker_trade_id, status, symbol, side, quantity, "
                "entry_price, entry_time, exit_price, exit_time, pnl) FROM STDIN"
            ) as copy:
                for day in range(days):
                    opens = start + timedelta(days=day, hours=8)
                    for n in range(trades_per_day):
                        entry = opens + timedelta(minutes=30 * n)
                        pnl = round(rng.gauss(15, 250), 2)
                        balance += pnl
                        copy.write_row(
                            (
                                account,
                                f"T{day}-{n}",
                                "closed",
                                rng.choice(("EURUSD", "GBPUSD", "XAUUSD")),
                                rng.choice(("long", "short")),
                                1.0,
                                1.1,
                                entry,
                                1.1 + pnl / 100_000,
                                entry + timedelta(minutes=20),
                                pnl,
                            )
                        )
                        trades += 1
            equity = 100_000.0
            with conn.cursor().copy(
                "COPY balance_ticks (account_id, ts, balance, equity) FROM STDIN"
            ) as copy:
                for step in range(days * 288):
                    equity += rng.gauss(0, 40)
                    copy.write_row((account, start + timedelta(minutes=5 * step), equity, equity))
                    ticks += 1
            conn.commit()
        conn.execute("ANALYZE")
    return {"accounts": accounts, "trades": trades, "ticks": ticks}


def _stats(latencies: list[float], errors: int, seconds: float, sent: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    if not ordered:
        return {"errors": errors, "sent": sent}

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "sent": sent,
        "answered_per_second": round(len(ordered) / seconds, 1),
        "errors": errors,
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


class RawHttp:
    """A small pool of keep-alive HTTP/1.1 connections: a load generator that costs little
    CPU, so on a shared two-core machine the client is not what limits the rate."""

    def __init__(self, host: str, port: int, headers: dict[str, str], size: int) -> None:
        self._host, self._port, self._size = host, port, size
        self._extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self._size):
            self._free.put_nowait(await asyncio.open_connection(self._host, self._port))

    async def get(self, path: str) -> int:
        reader, writer = await self._free.get()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {self._host}\r\n{self._extra}\r\n".encode())
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            return status
        finally:
            self._free.put_nowait((reader, writer))

    async def close(self) -> None:
        while not self._free.empty():
            _, writer = self._free.get_nowait()
            writer.close()


async def open_loop(
    base: str, headers: dict[str, str], paths: list[str], rate: float, seconds: float
) -> dict[str, Any]:
    """``rate`` requests a second on a fixed schedule for ``seconds``; latency from when
    each request was due."""
    host, port = base.removeprefix("http://").split(":")
    client = RawHttp(host, int(port), headers, size=128)
    await client.open()
    latencies: list[float] = []
    errors = 0

    async def one(path: str, due: float) -> None:
        nonlocal errors
        try:
            status = await client.get(path)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            errors += 1
            return
        if status != 200:
            errors += 1
            return
        latencies.append(time.perf_counter() - due)

    total = int(rate * seconds)
    begin = time.perf_counter()
    tasks = []
    for n in range(total):
        due = begin + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(paths[n % len(paths)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    await client.close()
    return _stats(latencies, errors, elapsed, total)


def closed_loop(base: str, headers: dict[str, str], paths: list[str], count: int) -> dict[str, Any]:
    """``count`` requests one after another (each sent when the last was answered)."""

    async def run() -> dict[str, Any]:
        host, port = base.removeprefix("http://").split(":")
        client = RawHttp(host, int(port), headers, size=1)
        await client.open()
        latencies: list[float] = []
        errors = 0
        begin = time.perf_counter()
        for n in range(count):
            started = time.perf_counter()
            if await client.get(paths[n % len(paths)]) == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
        elapsed = time.perf_counter() - begin
        await client.close()
        return _stats(latencies, errors, elapsed, count)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--admin-url", default=os.environ.get("AETHERIS_BENCH_ADMIN_URL", DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--trades", type=int, default=10, help="closed trades per day")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--cold-rate", type=float, default=20.0, help="requests/s of the uncached phase"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    run = secrets.token_hex(4)
    with scratch_database(args.admin_url, prefix="aetheris_bench_metrics") as url:
        prepare_database(url, timescale="off")
        port = _free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AETHERIS_", "KAFKA_", "DATABASE_URL", "REDIS_URL"))
        }
        env.update(
            DATABASE_URL=url,
            REDIS_URL=args.redis_url,
            KAFKA_BOOTSTRAP_SERVERS=args.kafka,
            AETHERIS_SECRET_KEY=secrets.token_urlsafe(48),
            AETHERIS_ENCRYPTION_KEYS=new_key(),
            AETHERIS_REDIS_PREFIX=f"bench-metrics-{run}",
            AETHERIS_DB_TIMESCALE="off",
            AETHERIS_TOPIC_EVENTS=f"bench-metrics-{run}-events",
            AETHERIS_TOPIC_BREACHES=f"bench-metrics-{run}-breaches",
            AETHERIS_TOPIC_DEADLETTER=f"bench-metrics-{run}-dead",
        )
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("api serve did not come up")
                time.sleep(0.3)
            email = f"bench-{run}@example.com"
            registered = httpx.post(
                f"{base}/api/v1/auth/register", json={"email": email, "password": PASSWORD}
            ).json()
            token = httpx.post(
                f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            ).json()["access_token"]
            began = time.perf_counter()
            loaded = load(url, registered["id"], args.accounts, args.days, args.trades)
            load_seconds = time.perf_counter() - began
            print(f"loaded {loaded} in {load_seconds:.1f} s", flush=True)
            headers = {"Authorization": f"Bearer {token}"}
            since = (END - timedelta(days=30)).isoformat().replace("+00:00", "Z")
            until = END.isoformat().replace("+00:00", "Z")
            rng = random.Random(11)
            paths = [
                f"/api/v1/metrics/bench_{i:04d}?from={since}&to={until}"
                for i in range(args.accounts)
            ]
            rng.shuffle(paths)
            # Cold: every request a range of its own (a minute's shift), so none is cached.
            cold_paths = [
                f"/api/v1/metrics/bench_{rng.randrange(args.accounts):04d}"
                f"?from={(END - timedelta(days=30, minutes=n)).isoformat().replace('+00:00', 'Z')}"
                f"&to={until}"
                for n in range(1, 20_000)
            ]
            closed_loop(base, headers, cold_paths[-20:], 20)  # warm up the processes
            service_cold = closed_loop(base, headers, cold_paths[:100], 100)
            print(f"service time, uncached, one at a time: {service_cold}", flush=True)
            closed_loop(base, headers, paths, len(paths))  # fill the cache
            service = closed_loop(base, headers, paths, 200)
            print(f"service time, cached, one at a time: {service}", flush=True)
            health = asyncio.run(open_loop(base, {}, ["/api/v1/health"], args.rate, args.seconds))
            print(f"health at {args.rate:g}/s: {health}", flush=True)
            metrics = asyncio.run(open_loop(base, headers, paths, args.rate, args.seconds))
            print(f"metrics at {args.rate:g}/s: {metrics}", flush=True)
            cold = asyncio.run(
                open_loop(base, headers, cold_paths[100:], args.cold_rate, args.seconds)
            )
            print(f"metrics uncached at {args.cold_rate:g}/s: {cold}", flush=True)
        finally:
            server.terminate()
            server.wait(30)
    result = {
        "loaded": loaded,
        "load_seconds": round(load_seconds, 1),
        "rate": args.rate,
        "seconds": args.seconds,
        "workers": args.workers,
        "cold_rate": args.cold_rate,
        "service_time_uncached": service_cold,
        "service_time_cached": service,
        "health_open_loop": health,
        "metrics_open_loop": metrics,
        "metrics_uncached_open_loop": cold,
    }
    print(f"written to {write_result('metrics_api', result)}")
    print(describe())


if __name__ == "__main__":
    main()
