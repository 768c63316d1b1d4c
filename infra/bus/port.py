"""The message-bus port: what the pipeline, connectors and tools need from Kafka.

Two adapters implement it: :class:`infra.bus.kafka.KafkaBus` (confluent-kafka) and
:class:`infra.bus.memory.InProcessBus` (the embedded default and the unit tests' twin).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Protocol

BEGINNING = -2
"""Start offset meaning "the oldest message still in the partition" (Kafka's value)."""

END = -1
"""Start offset meaning "only messages published from now on" (Kafka's value)."""

Headers = tuple[tuple[str, bytes], ...]

DeliveryCallback = Callable[[str | None], None]
"""Called once per message when the broker has it (``None``) or gave up on it (the error)."""


class BusError(RuntimeError):
    """The bus could not do what was asked (broker unreachable, topic missing, …)."""


class DeliveryError(BusError):
    """Some published messages were not acknowledged by the broker."""


class BusMessage(NamedTuple):
    """One message read from a topic partition (a named tuple: cheap to make and to pickle,
    which matters at tens of thousands of messages per second)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # When the publisher handed it to its client (Kafka CreateTime), in ms since the epoch.
    timestamp_ms: int | None = None
    headers: Headers = ()
    # When this process read it, in ns since the epoch (for latency accounting only).
    received_ns: int = 0

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name``, if present."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


class Publisher(Protocol):
    """Publishes keyed messages; a key always lands in the same partition of a topic."""

    def publish(
        self,
        topic: str,
        key: str,
        value: bytes,
        headers: Headers = (),
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Queue one message (never blocks for the broker; may wait for buffer space).

        ``on_delivery`` is called from :meth:`poll` or :meth:`flush` on the calling thread.
        """
        ...

    def poll(self) -> None:
        """Serve delivery reports without waiting; cheap, call it often."""
        ...

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued message is acknowledged; raise :class:`DeliveryError`."""
        ...

    def close(self) -> None:
        """Flush and release the client."""
        ...


class Reader(Protocol):
    """Reads messages from assigned partitions of one topic, in offset order per partition."""

    def read(self, max_messages: int, timeout: float) -> list[BusMessage]:
        """Up to ``max_messages`` messages, waiting at most ``timeout`` seconds for the first."""
        ...

    def assign(self, partition: int, offset: int) -> None:
        """Also read ``partition``, from ``offset`` (or :data:`BEGINNING`/:data:`END`)."""
        ...

    def close(self) -> None: ...


class Bus(Protocol):
    """Topics, publishers and readers of one message bus."""

    def create_topics(self, names: Sequence[str], partitions: int) -> list[str]:
        """Create the missing topics; return the names created (existing ones are kept)."""
        ...

    def partition_count(self, topic: str) -> int:
        """How many partitions ``topic`` has; :class:`BusError` if it does not exist."""
        ...

    def end_offsets(self, topic: str) -> dict[int, int]:
        """The offset the next message of each partition will get (the high watermark)."""
        ...

    def publisher(self) -> Publisher:
        """A new publisher (idempotent and acks=all on Kafka)."""
        ...

    def reader(
        self, topic: str, offsets: Mapping[int, int] | None = None, *, metadata: bool = True
    ) -> Reader:
        """A reader of ``topic``: the partitions in ``offsets`` from those offsets, or all
        partitions from the beginning. Offsets may be :data:`BEGINNING` or :data:`END`.
        ``metadata=False``: the messages' ``timestamp_ms`` and ``headers`` may be left out
        (None, empty), for a reader that uses neither (the pipeline: less work per message)."""
        ...

    def close(self) -> None: ...
