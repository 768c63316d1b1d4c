"""A Redis restart is survived: the API process's pub/sub connection comes back by itself
and every open socket gets a fresh snapshot, then the updates published after it.

The test runs a private redis-server on a free port (never the shared one on 6379) and
stops and starts it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from api.realtime import RealtimeLimits
from infra.db.pool import Pool
from infra.live.redis_store import RedisLive
from tests.integration.realtime.conftest import (
    free_port,
    next_message,
    open_stream,
    sign_up,
    standing,
    start_server,
    ticket,
)


class PrivateRedis:
    """redis-server on 127.0.0.1:port without persistence: a restart starts it empty."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: `bash scripts/services.sh redis`")
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client: redis.Redis[bytes] = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    message = f"private redis-server on {self.port} did not start"
                    raise AssertionError(message) from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(20)
            self._process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_redis_restart_is_survived_with_a_new_snapshot(
    pool: Pool, private_redis: PrivateRedis
) -> None:
    prefix = "restart-test"
    api = start_server(
        pool, private_redis.url, prefix, limits=RealtimeLimits(heartbeat_seconds=0.3)
    )
    try:
        trader = sign_up(api.base)
        account = trader.accounts[0]
        first_ticket = ticket(api.base, trader)

        async def scenario() -> None:
            stream = await open_stream(api.ws, first_ticket, account)
            assert (await next_message(stream, "snapshot"))["seq"] == 0
            before = RedisLive.from_url(private_redis.url, prefix, 2.0)
            before.publish([standing(account, equity=99_000.0)])
            before.close()
            assert (await next_message(stream, "state"))["state"]["equity"] == 99_000.0

            await asyncio.to_thread(private_redis.stop)
            while (await next_message(stream, "heartbeat"))["live"]:
                pass  # until the server has noticed that Redis is gone
            await asyncio.to_thread(private_redis.start)

            # Back, empty (no persistence): a fresh snapshot with nothing in it yet ...
            again = await next_message(stream, "snapshot", within=30)
            assert (again["seq"], again["state"]) == (0, None)
            assert (await next_message(stream, "heartbeat", within=10))["live"] is True
            # ... and the pipeline's numbering, restarted at 1, is followed again.
            after = RedisLive.from_url(private_redis.url, prefix, 2.0)
            after.publish([standing(account, equity=97_000.0)])
            after.close()
            state = await next_message(stream, "state")
            assert (state["seq"], state["state"]["equity"]) == (1, 97_000.0)
            assert stream.state.name == "OPEN"
            await stream.close()

        asyncio.run(scenario())
        assert api.hub.resnapshots == 1
    finally:
        api.stop()
