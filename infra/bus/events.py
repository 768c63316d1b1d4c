"""Publishing contract events: the one place that decides topic and key for an event."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from infra.bus.port import Publisher
from infra.bus.topics import Topics
from schemas import AccountEvent, BalanceEvent, BreachEvent, TradeEvent, event_json

BULK_POLL_EVERY = 10_000
"""A bulk publish serves delivery reports every this many messages."""


def event_bytes(event: AccountEvent | BalanceEvent | TradeEvent) -> bytes:
    """The event's JSON line as :func:`schemas.event_json` writes it (``None`` left out,
    times in UTC with ``Z``), written by orjson from the model's fields for balance and
    trade events (their fields are plain values), by the model otherwise."""
    if isinstance(event, BalanceEvent | TradeEvent):
        fields: dict[str, Any] = {k: v for k, v in event.__dict__.items() if v is not None}
        return orjson.dumps(fields, option=orjson.OPT_UTC_Z)
    return event_json(event).encode("utf-8")


class EventPublisher:
    """Publishes input events to the ordered events topic and breaches to the breach topic,
    keyed by account id. Connectors, the simulator and ``aetheris publish`` all use it."""

    def __init__(self, publisher: Publisher, topics: Topics) -> None:
        self.publisher = publisher
        self.topics = topics

    def publish_event(self, event: AccountEvent | BalanceEvent | TradeEvent) -> None:
        self.publisher.publish(
            self.topics.events, event.account_id, event_json(event).encode("utf-8")
        )

    def publish_events(self, events: Iterable[AccountEvent | BalanceEvent | TradeEvent]) -> int:
        """Publish many events in order (the bulk path of imports): JSON by
        :func:`event_bytes`, delivery reports served every :data:`BULK_POLL_EVERY`
        messages; returns how many were queued. Call :meth:`flush` to wait for them."""
        publish, topic, poll = self.publisher.publish, self.topics.events, self.publisher.poll
        count = 0
        for count, event in enumerate(events, start=1):
            publish(topic, event.account_id, event_bytes(event))
            if count % BULK_POLL_EVERY == 0:
                poll()
        return count

    def publish_lines(self, key: str, lines: Sequence[bytes]) -> int:
        """Publish pre-encoded event lines of one account, in order (the columnar import);
        through the publisher's own bulk call when it has one. Call :meth:`flush`."""
        many = getattr(self.publisher, "publish_many", None)
        if many is not None:
            return int(many(self.topics.events, key, lines))
        publish, topic, poll = self.publisher.publish, self.topics.events, self.publisher.poll
        for count, line in enumerate(lines, start=1):
            publish(topic, key, line)
            if count % BULK_POLL_EVERY == 0:
                poll()
        return len(lines)

    def publish_breach(self, breach: BreachEvent) -> None:
        self.publisher.publish(
            self.topics.breaches, breach.account_id, event_json(breach).encode("utf-8")
        )

    def poll(self) -> None:
        self.publisher.poll()

    def flush(self, timeout: float = 30.0) -> None:
        self.publisher.flush(timeout)

    def close(self) -> None:
        self.publisher.close()
