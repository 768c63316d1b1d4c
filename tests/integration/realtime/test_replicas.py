"""The production system as an operator runs it: `aetheris pipeline run` and two
`aetheris api serve` processes on the real Kafka, Redis and PostgreSQL. Ticks published
to Kafka reach a user's WebSocket on either API process as the account's levels 1, 2 and
3, its status turning ``locked``, and the next day ``failed``, each process serving what
the other handed a ticket for."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.secrets import new_key
from tests.integration.kafka.conftest import bootstrap, kafka, kafka_env, topics
from tests.integration.kafka.support import REPO, publish
from tests.integration.realtime.conftest import (
    SECRET_KEY,
    closed_with,
    free_port,
    open_stream,
    sign_up,
    ticket,
)
from tests.unit.pipelines.streams import START, balance

__all__ = ["bootstrap", "kafka", "kafka_env", "topics"]


@dataclass
class System:
    apis: list[str]
    log: Path


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"api serve did not come up: {log.read_text()[-3000:]}")
        time.sleep(0.3)


@pytest.fixture
def system(
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    kafka_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[System]:
    env = {k: v for k, v in kafka_env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        REDIS_URL=redis_url,
        AETHERIS_REDIS_PREFIX=redis_prefix,
        AETHERIS_STANDING_INTERVAL_MS="50",
        AETHERIS_DB_TIMESCALE="off",
    )
    api_env = {
        **env,
        "DATABASE_URL": database_url,
        "AETHERIS_SECRET_KEY": SECRET_KEY,
        "AETHERIS_ENCRYPTION_KEYS": new_key(),
        "AETHERIS_RATE_LIMIT_REGISTER": "1000/minute",
        "AETHERIS_RATE_LIMIT_LOGIN": "1000/minute",
    }
    log = tmp_path / "system.log"
    processes: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], environment: dict[str, str]) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "aetheris.cli", *args],
                cwd=REPO,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process

    try:
        start(["pipeline", "run", "--no-database"], env)
        apis = []
        for _ in range(2):  # one after the other: the first migrates the database
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            process = start(["api", "serve", "--port", str(port)], api_env)
            _wait_healthy(base, process, log)
            apis.append(base)
        yield System(apis, log)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def _collect(
    stream: ClientConnection, done: Any, within: float
) -> list[tuple[float, dict[str, Any]]]:
    """(arrival time, message) until ``done(messages)`` says so."""
    seen: list[tuple[float, dict[str, Any]]] = []
    async with asyncio.timeout(within):
        while not done([m for _, m in seen]):
            raw = await stream.recv()
            seen.append((time.monotonic(), json.loads(raw)))
    return seen


def _levels_and_lock(messages: list[dict[str, Any]]) -> bool:
    levels = {
        m["breach"]["level"]
        for m in messages
        if m["kind"] == "breach" and m["breach"]["rule"] == "max_daily_loss"
    }
    locked = any(m["kind"] == "status" and m["status"]["status"] == "locked" for m in messages)
    # The standing behind the lock comes right after the breach and the status change.
    shown = any(m["kind"] == "state" and m["state"]["status"] == "locked" for m in messages)
    return levels == {1, 2, 3} and locked and shown


def _failed(messages: list[dict[str, Any]]) -> bool:
    failed = any(m["kind"] == "status" and m["status"]["status"] == "failed" for m in messages)
    shown = any(m["kind"] == "state" and m["state"]["status"] == "failed" for m in messages)
    return failed and shown


def test_levels_1_2_3_the_lock_and_the_failure_reach_sockets_on_both_api_processes(
    system: System, kafka: KafkaBus, topics: Topics
) -> None:
    first, second = system.apis
    trader = sign_up(first)  # the account is created through the first process
    account = trader.accounts[0]
    # FTMO 2-step, 100,000: daily loss limit 5,000; levels at 70 / 90 / 100 %.
    ticks = [
        (100_000.0, None),  # the day's first tick
        (96_400.0, 1),  # 3,600 lost: 72 % -> level 1
        (95_400.0, 2),  # 4,600: 92 % -> level 2
        (94_800.0, 3),  # 5,200: over the limit -> level 3, locked for the day
    ]

    async def scenario() -> None:
        # A ticket from one process opens a socket on the other, and the reverse.
        on_second = await open_stream(second.replace("http", "ws"), ticket(first, trader), account)
        on_first = await open_stream(first.replace("http", "ws"), ticket(second, trader))
        for stream in (on_second, on_first):
            snapshot = json.loads(await asyncio.wait_for(stream.recv(), 30))
            assert snapshot["kind"] == "snapshot" and snapshot["account_id"] == account
        # Reading starts before the first tick, so arrival times are when messages came.
        readers = [
            asyncio.create_task(_collect(stream, _levels_and_lock, 90))
            for stream in (on_second, on_first)
        ]
        publisher = kafka.publisher()  # connected before the clock starts
        await asyncio.to_thread(publish, publisher, topics.events, [])
        sent: dict[int, float] = {}
        for number, (equity, level) in enumerate(ticks):
            line = balance(account, START + timedelta(minutes=number), equity)
            if level is not None:
                sent[level] = time.monotonic()
            await asyncio.to_thread(publish, publisher, topics.events, [line])
            await asyncio.sleep(0.5)
        collected = await asyncio.gather(*readers)
        for name, seen in zip(("second", "first"), collected, strict=True):
            messages = [m for _, m in seen]
            states = [m["state"] for m in messages if m["kind"] == "state"]
            assert states, f"no standing reached the socket on the {name} process"
            assert [s["seq"] for s in states] == sorted({s["seq"] for s in states})
            last = states[-1]
            daily = next(r for r in last["rules"] if r["rule"] == "max_daily_loss")
            assert (daily["level"], daily["used"], daily["limit"]) == (3, 5_200.0, 5_000.0)
            assert last["status"] == "locked" and last["equity"] == 94_800.0
            breaches = {
                m["breach"]["level"]: at
                for at, m in seen
                if m["kind"] == "breach" and m["breach"]["rule"] == "max_daily_loss"
            }
            delays = {level: round(breaches[level] - sent[level], 3) for level in (1, 2, 3)}
            print(f"tick -> socket on the {name} API process, seconds by level: {delays}")
        # The next trading day the account trades again and loses 10,500: its max loss
        # (10,000 for the account's life) reaches level 3 and the account fails.
        readers = [
            asyncio.create_task(_collect(stream, _failed, 90)) for stream in (on_second, on_first)
        ]
        line = balance(account, START + timedelta(days=1), 89_500.0)
        await asyncio.to_thread(publish, publisher, topics.events, [line])
        for seen in await asyncio.gather(*readers):
            messages = [m for _, m in seen]
            last = [m["state"] for m in messages if m["kind"] == "state"][-1]
            max_loss = next(r for r in last["rules"] if r["rule"] == "max_loss")
            assert (max_loss["level"], max_loss["used"]) == (3, 10_500.0)
            assert last["status"] == "failed"
        for stream in (on_second, on_first):
            await stream.close()

    asyncio.run(scenario())
    log = system.log.read_text()
    assert "Traceback" not in log, log[-3000:]


def test_user_b_cannot_open_user_a_stream_on_either_process(system: System) -> None:
    first, second = system.apis
    alice = sign_up(first)
    bob = sign_up(second)

    async def scenario() -> None:
        for base in (first, second):
            stream = await open_stream(
                base.replace("http", "ws"), ticket(base, bob), alice.accounts[0]
            )
            assert await closed_with(stream) == (1008, "account not found")

    asyncio.run(scenario())
