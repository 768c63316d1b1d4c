"""The topics AETHERIS uses, named by settings, and which topic an event goes to."""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import Settings


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names and the partition count they are created with.

    ``status`` carries account status changes (active, locked, failed, passed), keyed by
    account like breaches, on a topic of its own so breach consumers see only breaches.

    ``events`` is the single ordered input topic: account, balance and trade events,
    keyed by account id, so one account's events keep the order they were published in
    (Kafka orders messages only within a partition; see docs/pipeline.md).
    """

    events: str
    breaches: str
    deadletter: str
    partitions: int
    # Account status changes (docs/live-standing.md); None: not published to the bus.
    status: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(
            events=settings.topic_events,
            breaches=settings.topic_breaches,
            deadletter=settings.topic_deadletter,
            partitions=settings.topic_partitions,
            status=settings.topic_status,
        )

    def all(self) -> tuple[str, ...]:
        names = (self.events, self.breaches, self.deadletter)
        return names if self.status is None else (*names, self.status)
