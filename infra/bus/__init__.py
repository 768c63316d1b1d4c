"""The message bus: a small port, a Kafka adapter and an in-process twin.

``open_bus(settings)`` picks the adapter: Kafka when ``KAFKA_BOOTSTRAP_SERVERS`` is set,
otherwise this process's in-process bus (the embedded default).
"""

from __future__ import annotations

from infra.bus.deadletter import DeadLetter
from infra.bus.events import EventPublisher
from infra.bus.memory import InProcessBus
from infra.bus.partitioning import murmur2, partition_for
from infra.bus.port import (
    BEGINNING,
    END,
    Bus,
    BusError,
    BusMessage,
    DeliveryCallback,
    DeliveryError,
    Headers,
    Publisher,
    Reader,
)
from infra.bus.topics import Topics
from infra.settings import Settings

_IN_PROCESS: InProcessBus | None = None


def in_process_bus() -> InProcessBus:
    """This process's in-process bus (one per process, shared by everything in it)."""
    global _IN_PROCESS  # noqa: PLW0603 - one bus per process, like one broker
    if _IN_PROCESS is None:
        _IN_PROCESS = InProcessBus()
    return _IN_PROCESS


def open_bus(settings: Settings) -> Bus:
    """Kafka if ``KAFKA_BOOTSTRAP_SERVERS`` is set, else the in-process bus."""
    if settings.kafka_bootstrap_servers:
        from infra.bus.kafka import KafkaBus  # noqa: PLC0415 - keep librdkafka off the default path

        return KafkaBus(
            settings.kafka_bootstrap_servers,
            linger_ms=settings.kafka_linger_ms,
            fetch_wait_max_ms=settings.kafka_fetch_wait_ms,
            replication_factor=settings.topic_replication_factor,
        )
    return in_process_bus()


__all__ = [
    "BEGINNING",
    "END",
    "Bus",
    "BusError",
    "BusMessage",
    "DeadLetter",
    "DeliveryCallback",
    "DeliveryError",
    "EventPublisher",
    "Headers",
    "InProcessBus",
    "Publisher",
    "Reader",
    "Topics",
    "in_process_bus",
    "murmur2",
    "open_bus",
    "partition_for",
]
