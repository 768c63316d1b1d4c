"""Publishing contract events: the one place that decides topic and key for an event."""

from __future__ import annotations

from infra.bus.port import Publisher
from infra.bus.topics import Topics
from schemas import AccountEvent, BalanceEvent, BreachEvent, TradeEvent, event_json


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

    def publish_raw(self, key: str, value: bytes) -> None:
        """An input message as given (tools and tests that need to send malformed input)."""
        self.publisher.publish(self.topics.events, key, value)

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
