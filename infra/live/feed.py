"""The API's side of the live standing: one pub/sub connection per process, read in asyncio.

:class:`RedisFeed` holds ONE ``redis.asyncio`` pub/sub connection. It subscribes to the
channels of the accounts somebody in this process watches (counted, so a channel is
dropped when its last watcher leaves) and to the revocation channel, and hands each
message to a :class:`FeedSink` without waiting for anyone. When the connection breaks it
says so, reconnects with exponential backoff and jitter, subscribes again and tells the
sink, which re-snapshots its clients. :class:`InMemoryFeed` is the embedded twin over
:class:`infra.live.memory.InMemoryLive`. Keys and messages: :mod:`infra.live.messages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from infra.live.memory import InMemoryLive, Subscription
from infra.live.messages import account_channel, standing_key

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
POLL_SECONDS = 0.05
"""Longest a subscription change waits while no message arrives (the reader's poll)."""


def revocation_channel(prefix: str) -> str:
    """Where API processes hear that sessions ended: ``session:<id>`` or ``user:<id>``."""
    return f"{prefix}:revoked"


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Attempt 1, 2, 3, … waits about 0.1, 0.2, 0.4, … seconds, at most 5, with ±50 % jitter."""
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempt - 1))
    jitter: float = (rng or random).random()
    return float(base * (0.5 + jitter))


class FeedSink(Protocol):
    """Who gets the feed's messages (the API's realtime hub); every call returns at once."""

    def on_message(self, account_id: str, message: str) -> None: ...

    def on_revoked(self, subject: str) -> None: ...

    def on_connection(self, up: bool) -> None: ...


class LiveFeed(Protocol):
    """Account channels for the process's WebSocket clients, and their standings."""

    async def start(self, sink: FeedSink) -> None: ...

    async def stop(self) -> None: ...

    async def watch(self, account_ids: Iterable[str]) -> None:
        """Subscribe (counted); returns once the subscriptions are in effect."""

    def unwatch(self, account_ids: Iterable[str]) -> None: ...

    async def standings(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Each known account's latest standing as stored (JSON with ``seq``)."""


class FeedError(RuntimeError):
    """The feed cannot answer now (its store is unreachable); says why."""


def _account_of(prefix: str, channel: str) -> str | None:
    head = f"{prefix}:account:"
    return channel[len(head) :] if channel.startswith(head) else None


class RedisFeed:
    """:class:`LiveFeed` on Redis: one pub/sub connection read by one task of this loop."""

    def __init__(self, url: str, prefix: str, timeout_seconds: float = 2.0) -> None:
        self._url = url
        self._prefix = prefix
        self._timeout = timeout_seconds
        self._revoked = revocation_channel(prefix)
        self._watchers: Counter[str] = Counter()
        self._subscribed: set[str] = set()
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Reads retry twice on a broken connection: after a Redis restart the pool's
        # connections are stale, and the re-snapshot must not fail on the first of them.
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        self.connected = False
        self.reconnects = 0

    def where(self) -> str:
        kwargs = self._client.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"

    async def start(self, sink: FeedSink) -> None:
        self._task = asyncio.create_task(self._run(sink), name="aetheris-live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()  # type: ignore[attr-defined]

    async def watch(self, account_ids: Iterable[str]) -> None:
        waits: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        for account_id in account_ids:
            channel = account_channel(self._prefix, account_id)
            self._watchers[channel] += 1
            if channel not in self._subscribed:
                future: asyncio.Future[None] = loop.create_future()
                self._waiting.setdefault(channel, []).append(future)
                waits.append(future)
        if waits:
            self._changed.set()
            await asyncio.gather(*waits)

    def unwatch(self, account_ids: Iterable[str]) -> None:
        for account_id in account_ids:
            channel = account_channel(self._prefix, account_id)
            self._watchers[channel] -= 1
            if self._watchers[channel] <= 0:
                del self._watchers[channel]
                self._changed.set()

    async def standings(self, account_ids: Sequence[str]) -> dict[str, str]:
        if not account_ids:
            return {}
        try:
            values = await self._client.mget([standing_key(self._prefix, a) for a in account_ids])
        except (redis.RedisError, OSError) as exc:
            raise FeedError(f"Redis at {self.where()}: {type(exc).__name__}: {exc}") from None
        return {
            account_id: value.decode("utf-8")
            for account_id, value in zip(account_ids, values, strict=True)
            if value is not None
        }

    async def _run(self, sink: FeedSink) -> None:
        attempt = 0
        while True:
            client = aioredis.Redis.from_url(
                self._url, socket_connect_timeout=self._timeout, health_check_interval=10
            )
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self._revoked)
                self._subscribed = set()
                await self._sync(pubsub)
                if attempt:
                    self.reconnects += 1
                    log.warning("live feed: Redis at %s is back; re-snapshotting", self.where())
                attempt = 0
                self.connected = True
                sink.on_connection(True)
                await self._read(pubsub, sink)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                attempt += 1
                if self.connected or attempt == 1 or attempt % 100 == 0:
                    log.warning(
                        "live feed: Redis at %s: %s: %s (attempt %d; retrying with backoff)",
                        self.where(),
                        type(exc).__name__,
                        exc,
                        attempt,
                    )
                if self.connected:
                    self.connected = False
                    sink.on_connection(False)
                await asyncio.sleep(backoff_seconds(attempt))
            finally:
                self._subscribed = set()
                with contextlib.suppress(redis.RedisError, OSError):
                    # aclose(): redis-py 5+; the type stubs predate it.
                    await pubsub.aclose()  # type: ignore[attr-defined]
                    await client.aclose()  # type: ignore[attr-defined]

    async def _sync(self, pubsub: aioredis.client.PubSub) -> None:
        """Bring the connection's subscriptions to what the watchers want."""
        self._changed.clear()
        wanted = set(self._watchers)
        new = sorted(wanted - self._subscribed)
        gone = sorted(self._subscribed - wanted)
        if new:
            await pubsub.subscribe(*new)
        if gone:
            await pubsub.unsubscribe(*gone)
        self._subscribed = wanted

    async def _read(self, pubsub: aioredis.client.PubSub, sink: FeedSink) -> None:
        prefix = self._prefix
        while True:
            if self._changed.is_set():
                await self._sync(pubsub)
            message = await pubsub.get_message(timeout=POLL_SECONDS)
            if message is None:
                continue
            kind = message["type"]
            channel = message["channel"].decode("utf-8")
            if kind == "subscribe":
                for future in self._waiting.pop(channel, []):
                    if not future.done():
                        future.set_result(None)
                continue
            if kind != "message":
                continue
            data = message["data"].decode("utf-8")
            if channel == self._revoked:
                sink.on_revoked(data)
                continue
            account_id = _account_of(prefix, channel)
            if account_id is not None:
                sink.on_message(account_id, data)
                # Let the clients' writers run between messages of a burst, so a burst
                # is sent as it comes rather than piled up in their queues.
                await asyncio.sleep(0)


class InMemoryFeed:
    """:class:`LiveFeed` on this process's twin: a thread moves the twin's messages into the
    loop; revocations come from :class:`InMemoryRevocations` of the same process."""

    def __init__(self, live: InMemoryLive, capacity: int = 100_000) -> None:
        self._live = live
        self._capacity = capacity
        self._sink: FeedSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscription: Subscription | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    async def start(self, sink: FeedSink) -> None:
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._subscription = self._live.subscribe(None, self._capacity)
        self._thread = threading.Thread(target=self._pump, name="aetheris-live-twin", daemon=True)
        self._thread.start()
        sink.on_connection(True)

    async def stop(self) -> None:
        self._stopping.set()
        if self._subscription is not None:
            self._subscription.close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    async def watch(self, account_ids: Iterable[str]) -> None:
        """The twin's subscription already carries every account."""

    def unwatch(self, account_ids: Iterable[str]) -> None:
        """Nothing to drop."""

    async def standings(self, account_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for account_id in account_ids:
            text = self._live.raw(standing_key(self._live.prefix, account_id))
            if text is not None:
                found[account_id] = text
        return found

    def revoke(self, subject: str) -> None:
        """A revocation in this process (any thread)."""
        loop, sink = self._loop, self._sink
        if loop is not None and sink is not None and not loop.is_closed():
            loop.call_soon_threadsafe(sink.on_revoked, subject)

    def _pump(self) -> None:
        subscription, loop, sink = self._subscription, self._loop, self._sink
        assert subscription is not None and loop is not None and sink is not None
        prefix = self._live.prefix
        while not self._stopping.is_set():
            got = subscription.get(0.2)
            if got is None:
                continue
            account_id = _account_of(prefix, got[0])
            if account_id is not None and not loop.is_closed():
                loop.call_soon_threadsafe(sink.on_message, account_id, got[1])
