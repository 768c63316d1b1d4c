"""The measured live hub behaves as the hub and counts its fan-out and clients."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from prometheus_client import REGISTRY

from api.observability import MeasuredRealtimeHub

from .test_realtime_hub import FakeFeed, drain, kinds, state, stored


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_fanout_is_timed_per_message_and_clients_are_counted() -> None:
    async def scenario() -> None:
        feed = FakeFeed()
        feed.stored["A1"] = stored("A1", 1)
        hub = MeasuredRealtimeHub(feed)
        await hub.start()
        before_count = sample("aetheris_api_fanout_seconds_count")
        before_messages = sample("aetheris_api_fanout_messages_total")
        one = hub.new_client(uuid4(), uuid4(), ["A1"])
        two = hub.new_client(uuid4(), uuid4(), ["A1"])
        await hub.join(one)
        await hub.join(two)
        assert sample("aetheris_api_realtime_clients") == 2
        hub.on_message("A1", state("A1", 2))
        hub.on_message("A2", state("A2", 1))  # nobody watches A2: timed all the same
        # Two messages received, each timed once, whatever the number of clients.
        assert sample("aetheris_api_fanout_seconds_count") - before_count == 2
        assert sample("aetheris_api_fanout_messages_total") - before_messages == 2
        assert sample("aetheris_api_fanout_seconds_sum") > 0
        for client in (one, two):
            assert kinds(drain(client)) == [("snapshot", 1), ("state", 2)]
        hub.leave(one)
        assert sample("aetheris_api_realtime_clients") == 1
        hub.leave(two)
        assert sample("aetheris_api_realtime_clients") == 0

    asyncio.run(scenario())
