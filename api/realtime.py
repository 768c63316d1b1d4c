"""The WebSocket hub of one API process: live messages of the feed to bounded client queues.

One :class:`infra.live.feed.LiveFeed` per process (one Redis pub/sub connection) feeds
every client. Handing a message to a client never waits: it goes on the client's own
bounded queue, and a client whose queue is full is closed (1013) while the others go on.
A client gets a ``snapshot`` of each of its accounts when it joins and again after the
feed reconnects; ``state`` messages not newer than what it already has (``seq``) are
dropped, so a snapshot and the updates around it never go backwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from infra.live.feed import FeedError, LiveFeed
from infra.live.port import LiveError

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_GOING_AWAY = 1001

_STATE_HEAD = '{"kind":"state","seq":'


class RevocationNotice(Protocol):
    def session_ended(self, session_id: UUID) -> None: ...

    def user_sessions_ended(self, user_id: UUID) -> None: ...


def announce_ended(
    revocations: RevocationNotice | None,
    *,
    session_id: UUID | None = None,
    user_id: UUID | None = None,
) -> None:
    """Tell every API process to close the sockets of an ended session (or all of a
    user's). The database already says so: if the notice cannot go out, each socket
    still ends at its next session check."""
    if revocations is None:
        return
    try:
        if session_id is not None:
            revocations.session_ended(session_id)
        if user_id is not None:
            revocations.user_sessions_ended(user_id)
    except LiveError as exc:
        log.warning("realtime: revocation not announced (%s); sockets end at their check", exc)


@dataclass(frozen=True)
class RealtimeLimits:
    """Queue size, heartbeat and the bounds of every wait of a WebSocket client."""

    queue_size: int = 256
    heartbeat_seconds: float = 15.0
    send_timeout_seconds: float = 5.0
    close_timeout_seconds: float = 10.0
    auth_timeout_seconds: float = 10.0
    session_check_seconds: float = 60.0
    subscribe_timeout_seconds: float = 5.0
    max_message_bytes: int = 4_096


@dataclass(frozen=True)
class Close:
    """Close the socket with this code and reason (queued after what was already sent)."""

    code: int
    reason: str


def message_seq(message: str) -> int | None:
    """The ``seq`` of a ``state`` channel message, or None for any other kind."""
    if message.startswith(_STATE_HEAD):
        end = message.find(",", len(_STATE_HEAD))
        digits = message[len(_STATE_HEAD) : end]
        if end > 0 and digits.isdigit():
            return int(digits)
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    if isinstance(parsed, dict) and parsed.get("kind") == "state":
        seq = parsed.get("seq")
        return seq if isinstance(seq, int) else None
    return None


def standing_seq(standing: str) -> int:
    """The ``seq`` field of a stored standing (0 when it has none)."""
    try:
        parsed = json.loads(standing)
    except ValueError:
        return 0
    seq = parsed.get("seq") if isinstance(parsed, dict) else None
    return seq if isinstance(seq, int) else 0


def snapshot_message(account_id: str, standing: str | None) -> str:
    """``{"kind": "snapshot", "account_id", "seq", "state"}``; ``state`` null and ``seq`` 0
    while the pipeline has not reported the account yet."""
    seq = 0 if standing is None else standing_seq(standing)
    body = "null" if standing is None else standing
    return f'{{"kind":"snapshot","account_id":{json.dumps(account_id)},"seq":{seq},"state":{body}}}'


@dataclass(eq=False)
class RealtimeClient:
    """One WebSocket: who it is, which accounts it shows, and its bounded queue."""

    user_id: UUID
    session_id: UUID
    account_ids: tuple[str, ...]
    queue_size: int
    queue: asyncio.Queue[str | Close] = field(init=False)
    last_seq: dict[str, int] = field(default_factory=dict)
    held: list[tuple[str, str]] | None = None  # messages that came while a snapshot is read
    closing: Close | None = None
    sent: int = 0

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.queue_size)

    def close(self, code: int, reason: str) -> None:
        """Drop what is queued and queue the close (the writer sends it next)."""
        if self.closing is not None:
            return
        self.closing = Close(code, reason)
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(self.closing)


class RealtimeHub:
    """Every WebSocket client of this process, by account, session and user."""

    def __init__(self, feed: LiveFeed, limits: RealtimeLimits | None = None) -> None:
        self.feed = feed
        self.limits = limits or RealtimeLimits()
        self._by_account: dict[str, set[RealtimeClient]] = {}
        self._clients: set[RealtimeClient] = set()
        self._live = False
        self._was_down = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped_slow = 0
        self.resnapshots = 0

    @property
    def live(self) -> bool:
        """Whether the feed is connected (heartbeats say so to the clients)."""
        return self._live

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        await self.feed.start(self)

    async def stop(self) -> None:
        for client in list(self._clients):
            client.close(CLOSE_GOING_AWAY, "the server is shutting down")
        await self.feed.stop()

    def new_client(
        self, user_id: UUID, session_id: UUID, account_ids: Sequence[str]
    ) -> RealtimeClient:
        return RealtimeClient(user_id, session_id, tuple(account_ids), self.limits.queue_size)

    async def join(self, client: RealtimeClient) -> None:
        """Register the client, subscribe its accounts, queue its snapshot.

        Raises :class:`FeedError` when the feed cannot subscribe or read in time.
        """
        self._clients.add(client)
        for account_id in client.account_ids:
            self._by_account.setdefault(account_id, set()).add(client)
        client.held = []  # hold messages until the snapshot is queued
        try:
            await asyncio.wait_for(
                self.feed.watch(client.account_ids), self.limits.subscribe_timeout_seconds
            )
        except TimeoutError:
            self.leave(client)
            raise FeedError("the live feed did not subscribe in time") from None
        try:
            await self._snapshot(client)
        except FeedError:
            self.leave(client)
            raise

    def leave(self, client: RealtimeClient) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        for account_id in client.account_ids:
            watchers = self._by_account.get(account_id)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self._by_account[account_id]
        self.feed.unwatch(client.account_ids)

    async def _snapshot(self, client: RealtimeClient) -> None:
        if client.held is None:
            client.held = []
        try:
            standings = await asyncio.wait_for(
                self.feed.standings(client.account_ids), self.limits.subscribe_timeout_seconds
            )
        except TimeoutError:
            client.held = None
            raise FeedError("the live standings were not read in time") from None
        except FeedError:
            client.held = None
            raise
        held, client.held = client.held, None
        for account_id in client.account_ids:
            standing = standings.get(account_id)
            client.last_seq[account_id] = 0 if standing is None else standing_seq(standing)
            self._offer(client, snapshot_message(account_id, standing))
        for account_id, message in held:
            self._deliver(client, account_id, message)

    # FeedSink: called by the feed on this loop, never waiting --------------------------

    def on_message(self, account_id: str, message: str) -> None:
        watchers = self._by_account.get(account_id)
        if not watchers:
            return
        for client in list(watchers):
            self._deliver(client, account_id, message)

    def on_revoked(self, subject: str) -> None:
        kind, _, ident = subject.partition(":")
        try:
            subject_id = UUID(ident)
        except ValueError:
            log.warning("realtime: unreadable revocation %r ignored", subject[:80])
            return
        for client in list(self._clients):
            if (kind == "session" and client.session_id == subject_id) or (
                kind == "user" and client.user_id == subject_id
            ):
                client.close(CLOSE_POLICY, "the session has ended: sign in again")

    def on_connection(self, up: bool) -> None:
        self._live = up
        if not up:
            self._was_down = True
            return
        if self._was_down:
            self._was_down = False
            self.resnapshots += 1
            for client in list(self._clients):
                task = asyncio.get_running_loop().create_task(self._resnapshot(client))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _resnapshot(self, client: RealtimeClient) -> None:
        try:
            await self._snapshot(client)
        except FeedError as exc:
            client.close(CLOSE_TRY_AGAIN, f"live data unavailable: {exc}")

    def _deliver(self, client: RealtimeClient, account_id: str, message: str) -> None:
        if client.closing is not None:
            return
        if client.held is not None:
            if len(client.held) >= self.limits.queue_size:
                self._too_slow(client)
            else:
                client.held.append((account_id, message))
            return
        seq = message_seq(message)
        if seq is not None:
            if seq <= client.last_seq.get(account_id, 0):
                return
            client.last_seq[account_id] = seq
        self._offer(client, message)

    def _offer(self, client: RealtimeClient, message: str) -> None:
        try:
            client.queue.put_nowait(message)
        except asyncio.QueueFull:
            self._too_slow(client)

    def _too_slow(self, client: RealtimeClient) -> None:
        self.dropped_slow += 1
        client.close(CLOSE_TRY_AGAIN, "the client does not keep up: reconnect")
