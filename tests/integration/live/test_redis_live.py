"""The live-standing port on the real Redis: the standing key a reader parses, the
per-account ``seq``, the channel messages in order, and outages that never stall."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from redis.client import PubSub

from infra.live import LiveError, account_channel, sequence_key, standing_key
from infra.live.redis_store import RedisLive
from pipelines.live import LiveWriter
from schemas import BreachEvent, StatusEvent
from schemas.state import AccountSnapshot, RuleStanding

TS = datetime(2026, 3, 2, 10, 12, 3, tzinfo=UTC)


def standing(account_id: str, equity: float, status: str = "active") -> AccountSnapshot:
    return AccountSnapshot.model_validate(
        {
            "account_id": account_id,
            "ruleset": "ftmo-2step",
            "currency": "USD",
            "initial_balance": 100_000.0,
            "balance": 100_000.0,
            "equity": equity,
            "start_of_day_balance": 100_000.0,
            "start_of_day_equity": 100_000.0,
            "highest_eod_balance": 100_000.0,
            "peak_equity": 100_000.0,
            "rules": (
                RuleStanding(
                    rule="max_daily_loss",
                    used=100_000.0 - equity,
                    limit=5_000.0,
                    used_percent=0.0,
                    threshold=95_000.0,
                    level=0,
                ),
            ),
            "events_applied": 2,
            "duplicate_trades": 0,
            "breaches_emitted": 0,
            "status": status,
        }
    )


BREACH = BreachEvent(
    breach_id="b" * 32,
    account_id="A1",
    rule="max_daily_loss",
    level=3,
    ts=TS,
    value=5_150.0,
    limit=5_000.0,
    threshold=95_000.0,
    message="Daily loss 5,150.00 reached the limit 5,000.00",
)
LOCKED = StatusEvent(
    status_id="s" * 32,
    account_id="A1",
    status="locked",
    previous="active",
    ts=TS,
    rule="max_daily_loss",
    until=datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
    message="locked",
)


def listen(client: redis.Redis[bytes], *channels: str) -> PubSub:
    """A subscription confirmed by the server before anything is published."""
    pubsub = client.pubsub()
    pubsub.subscribe(*channels)
    confirmed = 0
    deadline = time.monotonic() + 10
    while confirmed < len(channels) and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
        if message is not None and message["type"] == "subscribe":
            confirmed += 1
    assert confirmed == len(channels), "the subscription was not confirmed"
    return pubsub


def received(pubsub: PubSub, count: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``count`` messages ``(channel, decoded JSON)``, waiting at most ``timeout``."""
    found: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None and message["type"] == "message":
            found.append((message["channel"].decode(), json.loads(message["data"])))
    return found


def test_standings_breaches_and_status_go_to_the_key_and_channel_in_order(
    redis_url: str, redis_client: redis.Redis[bytes], redis_prefix: str
) -> None:
    live = RedisLive.from_url(redis_url, redis_prefix, 2.0)
    channel = account_channel(redis_prefix, "A1")
    pubsub = listen(redis_client, channel, account_channel(redis_prefix, "B1"))
    try:
        live.publish([standing("A1", 96_000.0)])
        live.publish([BREACH, LOCKED, standing("A1", 94_850.0, "locked"), standing("B1", 1.0)])
        messages = received(pubsub, 5)
    finally:
        pubsub.close()
        live.close()

    assert [(c.split(":")[-1], m["kind"]) for c, m in messages] == [
        ("A1", "state"),
        ("A1", "breach"),
        ("A1", "status"),
        ("A1", "state"),
        ("B1", "state"),
    ]
    assert messages[1][1] == {
        "kind": "breach",
        "breach": json.loads(BREACH.model_dump_json(exclude_none=True)),
    }
    assert messages[2][1]["status"] == {
        "type": "status",
        "status_id": "s" * 32,
        "account_id": "A1",
        "status": "locked",
        "previous": "active",
        "ts": "2026-03-02T10:12:03Z",
        "rule": "max_daily_loss",
        "until": "2026-03-02T23:00:00Z",
        "message": "locked",
    }
    first, second = messages[0][1], messages[3][1]
    assert (first["seq"], second["seq"], messages[4][1]["seq"]) == (1, 2, 1)
    assert isinstance(second["state"], dict) and second["state"]["seq"] == 2

    # The key holds exactly what a reader parses: AccountSnapshot's JSON, seq included.
    text = redis_client.get(standing_key(redis_prefix, "A1"))
    assert text is not None
    stored = AccountSnapshot.model_validate_json(text)
    assert stored == standing("A1", 94_850.0, "locked").model_copy(update={"seq": 2})
    assert json.loads(text) == second["state"]
    assert redis_client.get(sequence_key(redis_prefix, "A1")) == b"2"


def test_the_sequence_keeps_rising_across_publishers(
    redis_url: str, redis_client: redis.Redis[bytes], redis_prefix: str
) -> None:
    """A restarted pipeline (a new client) continues the account's numbering."""
    for equity in (1.0, 2.0):
        live = RedisLive.from_url(redis_url, redis_prefix, 2.0)
        live.publish([standing("A1", equity)])
        live.close()
    text = redis_client.get(standing_key(redis_prefix, "A1"))
    assert text is not None
    assert AccountSnapshot.model_validate_json(text).seq == 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_an_unreachable_redis_is_a_clear_error_without_the_password() -> None:
    port = free_port()  # nothing listens there
    live = RedisLive.from_url(f"redis://:sekret-pass@127.0.0.1:{port}/0", "p", 1.0)
    with pytest.raises(LiveError) as caught:
        live.publish([standing("A1", 1.0)])
    assert f"127.0.0.1:{port}/0" in str(caught.value)
    assert "ConnectionError" in str(caught.value)
    assert "sekret" not in str(caught.value)


def test_a_redis_that_never_answers_is_a_timeout_not_a_hang() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (the kernel does), never answers
        port = silent.getsockname()[1]
        live = RedisLive.from_url(f"redis://127.0.0.1:{port}/0", "p", 0.3)
        with pytest.raises(LiveError, match="Timeout"):
            live.publish([standing("A1", 1.0)])


class Forwarder:
    """A TCP forwarder to Redis on a port of its own, started and stopped at will: what a
    Redis outage and its restart look like to a client."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if self._server is not server:  # stopped meanwhile
                client.close()
                return
            upstream = socket.create_connection(self.target, timeout=5)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._server is not None:
            with suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._server.close()
            self._server = None
        with self._lock:
            for end in self._open:
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self._open.clear()


@contextmanager
def forwarder(redis_url: str) -> Iterator[Forwarder]:
    parts = urlsplit(redis_url)
    proxy = Forwarder((parts.hostname or "127.0.0.1", parts.port or 6379))
    try:
        yield proxy
    finally:
        proxy.stop()


def test_the_writer_rides_out_an_outage_and_publishes_the_latest_when_redis_returns(
    redis_url: str, redis_client: redis.Redis[bytes], redis_prefix: str
) -> None:
    with forwarder(redis_url) as proxy:
        db = urlsplit(redis_url).path.lstrip("/") or "0"
        live = RedisLive.from_url(f"redis://127.0.0.1:{proxy.port}/{db}", redis_prefix, 0.5)
        writer = LiveWriter(live, retry_initial_seconds=0.02, retry_max_seconds=0.1)
        try:
            proxy.start()
            writer.write([standing("A1", 1.0)])
            wait_until(lambda: writer.stats.standings == 1)
            proxy.stop()  # Redis goes away
            for equity in (2.0, 3.0, 4.0):
                writer.write([standing("A1", equity)])  # returns at once, never blocks
            writer.write([LOCKED])
            wait_until(lambda: writer.stats.failures >= 2)
            # Between tries it holds the latest standing and the status change, no more.
            wait_until(lambda: writer.pending() == 2)
            proxy.start()  # Redis is back
            wait_until(lambda: writer.pending() == 0 and writer.stats.events == 1)
        finally:
            writer.close()
    text = redis_client.get(standing_key(redis_prefix, "A1"))
    assert text is not None
    latest = AccountSnapshot.model_validate_json(text)
    assert (latest.equity, latest.seq) == (4.0, 2)  # 2.0 and 3.0 were superseded
    assert writer.stats.standings == 2
    assert writer.stats.last_error is not None and "127.0.0.1" in writer.stats.last_error


def wait_until(check: object, timeout: float = 15.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)
