"""The WebSocket hub around a hand-written feed: snapshots and ``seq``, messages held while
a snapshot is read, a full queue closes only its own client, revocations by session and
by user, a reconnect re-snapshots everyone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from uuid import UUID, uuid4

from api.realtime import (
    Close,
    RealtimeClient,
    RealtimeHub,
    RealtimeLimits,
    message_seq,
    snapshot_message,
    standing_seq,
)
from infra.live.feed import FeedSink, backoff_seconds


def state(account: str, seq: int, equity: float = 100_000.0) -> str:
    body = json.dumps({"account_id": account, "equity": equity, "seq": seq}, separators=(",", ":"))
    return f'{{"kind":"state","seq":{seq},"state":{body}}}'


def stored(account: str, seq: int) -> str:
    return json.dumps({"account_id": account, "equity": 99_000.0, "seq": seq})


class FakeFeed:
    """Standings from a dict; ``during_read`` runs while the hub waits for them."""

    def __init__(self) -> None:
        self.stored: dict[str, str] = {}
        self.watched: list[str] = []
        self.sink: FeedSink | None = None
        self.during_read: list[tuple[str, str]] = []

    async def start(self, sink: FeedSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        self.sink = None

    async def watch(self, account_ids: Iterable[str]) -> None:
        self.watched.extend(account_ids)

    def unwatch(self, account_ids: Iterable[str]) -> None:
        for account_id in account_ids:
            self.watched.remove(account_id)

    async def standings(self, account_ids: Sequence[str]) -> dict[str, str]:
        assert self.sink is not None
        for account_id, message in self.during_read:
            self.sink.on_message(account_id, message)
        self.during_read = []
        return {a: self.stored[a] for a in account_ids if a in self.stored}


def drain(client: RealtimeClient) -> list[str | Close]:
    out: list[str | Close] = []
    while not client.queue.empty():
        out.append(client.queue.get_nowait())
    return out


def kinds(items: list[str | Close]) -> list[object]:
    return [
        i if isinstance(i, Close) else (json.loads(i)["kind"], json.loads(i).get("seq"))
        for i in items
    ]


def test_seq_is_read_from_the_pipelines_messages() -> None:
    assert message_seq(state("A1", 17)) == 17
    assert message_seq('{"kind": "state", "seq": 4, "state": {}}') == 4
    assert message_seq('{"kind":"breach","breach":{}}') is None
    assert message_seq("not json") is None
    assert standing_seq(stored("A1", 9)) == 9
    assert standing_seq("{}") == 0
    assert json.loads(snapshot_message("A1", None)) == {
        "kind": "snapshot",
        "account_id": "A1",
        "seq": 0,
        "state": None,
    }


def test_snapshot_first_then_only_newer_states() -> None:
    async def scenario() -> None:
        feed = FakeFeed()
        feed.stored["A1"] = stored("A1", 5)
        # Published while the snapshot is read: seq 5 is in the snapshot, 6 is newer.
        feed.during_read = [("A1", state("A1", 5)), ("A1", state("A1", 6))]
        hub = RealtimeHub(feed)
        await hub.start()
        client = hub.new_client(uuid4(), uuid4(), ["A1"])
        await hub.join(client)
        assert feed.watched == ["A1"]
        hub.on_message("A1", state("A1", 6))  # a repeat
        hub.on_message("A1", state("A1", 4))  # older than the snapshot
        hub.on_message("A1", '{"kind":"breach","breach":{"level":3}}')
        hub.on_message("A2", state("A2", 1))  # not this client's account
        assert kinds(drain(client)) == [("snapshot", 5), ("state", 6), ("breach", None)]
        hub.leave(client)
        assert feed.watched == []

    asyncio.run(scenario())


def test_a_full_queue_closes_that_client_only_with_1013() -> None:
    async def scenario() -> None:
        hub = RealtimeHub(FakeFeed(), RealtimeLimits(queue_size=3))
        await hub.start()
        slow = hub.new_client(uuid4(), uuid4(), ["A1"])
        fast = hub.new_client(uuid4(), uuid4(), ["A1"])
        await hub.join(slow)
        await hub.join(fast)
        drain(fast)
        for seq in range(1, 4):  # slow: snapshot + 2 fit, the third overflows
            hub.on_message("A1", state("A1", seq))
            drain(fast)
        assert drain(slow) == [Close(1013, "the client does not keep up: reconnect")]
        hub.on_message("A1", state("A1", 4))
        assert drain(slow) == []  # closing: nothing more is queued
        assert kinds(drain(fast)) == [("state", 4)]
        assert hub.dropped_slow == 1

    asyncio.run(scenario())


def test_revocations_close_the_sessions_and_users_sockets() -> None:
    async def scenario() -> None:
        hub = RealtimeHub(FakeFeed())
        await hub.start()
        user, other_user = uuid4(), uuid4()
        session, other_session = uuid4(), uuid4()
        a = hub.new_client(user, session, ["A1"])
        b = hub.new_client(user, other_session, ["A1"])
        c = hub.new_client(other_user, uuid4(), ["B1"])
        for client in (a, b, c):
            await hub.join(client)
            drain(client)
        ended = Close(1008, "the session has ended: sign in again")
        hub.on_revoked(f"session:{session}")
        assert (drain(a), drain(b), drain(c)) == ([ended], [], [])
        hub.on_revoked(f"user:{user}")
        assert (drain(b), drain(c)) == ([ended], [])
        hub.on_revoked("session:not-a-uuid")  # ignored, logged
        hub.on_revoked(f"user:{UUID(int=0)}")
        assert drain(c) == []

    asyncio.run(scenario())


def test_a_reconnect_resnapshots_every_client_and_resets_seq() -> None:
    async def scenario() -> None:
        feed = FakeFeed()
        feed.stored["A1"] = stored("A1", 40)
        hub = RealtimeHub(feed)
        await hub.start()
        client = hub.new_client(uuid4(), uuid4(), ["A1"])
        await hub.join(client)
        hub.on_connection(True)
        hub.on_connection(False)
        assert not hub.live
        # Redis came back empty: the pipeline numbers the account from 1 again.
        feed.stored["A1"] = stored("A1", 1)
        hub.on_connection(True)
        await asyncio.sleep(0.01)
        hub.on_message("A1", state("A1", 2))
        assert kinds(drain(client)) == [("snapshot", 40), ("snapshot", 1), ("state", 2)]
        assert hub.resnapshots == 1

    asyncio.run(scenario())


def test_backoff_doubles_to_five_seconds_with_jitter() -> None:
    class Half:
        def random(self) -> float:
            return 0.5

    half = Half()
    waits = [backoff_seconds(n, half) for n in (1, 2, 3, 7, 30)]  # type: ignore[arg-type]
    assert waits == [0.1, 0.2, 0.4, 5.0, 5.0]
