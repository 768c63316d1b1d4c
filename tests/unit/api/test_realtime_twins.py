"""The embedded twins of the live side: tickets work once and expire, revocations and the
twin's messages reach the hub through :class:`infra.live.feed.InMemoryFeed`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from uuid import uuid4

from api.realtime import Close, RealtimeHub
from infra.live import InMemoryLive
from infra.live.feed import InMemoryFeed
from infra.live.tickets import InMemoryRevocations, InMemoryTickets, TicketHolder, ticket_key
from schemas import BreachEvent


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_ticket_works_once_and_not_after_its_lifetime() -> None:
    clock = Clock()
    tickets = InMemoryTickets(30, clock)
    holder = TicketHolder(uuid4(), uuid4())
    once = tickets.issue(holder)
    assert tickets.redeem(once) == holder
    assert tickets.redeem(once) is None
    late = tickets.issue(holder)
    clock.now += 30  # the lifetime is over at exactly 30 s
    assert tickets.redeem(late) is None
    assert tickets.redeem("forged") is None


def test_only_the_digest_of_a_ticket_is_the_key() -> None:
    key = ticket_key("aetheris", "secret-ticket")
    assert key.startswith("aetheris:ws-ticket:") and "secret-ticket" not in key
    assert len(key.rsplit(":", 1)[1]) == 64


def test_the_twin_feeds_the_hub_and_revocations_close_sockets() -> None:
    async def scenario() -> None:
        live = InMemoryLive("twin-test")
        feed = InMemoryFeed(live)
        hub = RealtimeHub(feed)
        await hub.start()
        user, session = uuid4(), uuid4()
        client = hub.new_client(user, session, ["A1"])
        await hub.join(client)
        snapshot = json.loads(await asyncio.wait_for(client.queue.get(), 5))  # type: ignore[arg-type]
        assert (snapshot["kind"], snapshot["seq"], snapshot["state"]) == ("snapshot", 0, None)
        breach = BreachEvent.model_validate(
            {
                "breach_id": "b1",
                "account_id": "A1",
                "rule": "max_daily_loss",
                "level": 3,
                "ts": datetime(2026, 3, 2, 10, tzinfo=UTC),
                "value": 5_200.0,
                "limit": 5_000.0,
                "message": "daily loss reached its limit",
            }
        )
        live.publish([breach])  # as the demo's pipeline does, from its own thread
        streamed = json.loads(await asyncio.wait_for(client.queue.get(), 5))  # type: ignore[arg-type]
        assert streamed["kind"] == "breach" and streamed["breach"]["breach_id"] == "b1"
        InMemoryRevocations(feed).session_ended(session)
        closed = await asyncio.wait_for(client.queue.get(), 5)
        assert closed == Close(1008, "the session has ended: sign in again")
        await hub.stop()

    asyncio.run(scenario())
