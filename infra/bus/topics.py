"""The topics AETHERIS uses, named by settings, and which topic an event goes to."""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import Settings


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names and the partition count they are created with.

    ``events`` is the single ordered input topic: account, balance and trade events,
    keyed by account id, so one account's events keep the order they were published in
    (Kafka orders messages only within a partition; see docs/pipeline.md).
    """

    events: str
    breaches: str
    deadletter: str
    partitions: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            events=settings.topic_events,
            breaches=settings.topic_breaches,
            deadletter=settings.topic_deadletter,
            partitions=settings.topic_partitions,
        )

    def all(self) -> tuple[str, ...]:
        return (self.events, self.breaches, self.deadletter)
