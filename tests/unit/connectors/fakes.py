"""Fakes around the connectors' ports, for unit tests."""

from __future__ import annotations

from infra.bus import DeliveryError


class FlakyPublisher:
    """A bus that loses what it was given on its first ``failures`` flushes."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.pending: list[bytes] = []
        self.delivered: list[bytes] = []

    def publish(
        self, topic: str, key: str, value: bytes, headers: object = (), on_delivery: object = None
    ) -> None:
        self.pending.append(value)

    def poll(self) -> None:
        pass

    def flush(self, timeout: float = 30.0) -> None:
        if self.failures:
            self.failures -= 1
            self.pending.clear()
            raise DeliveryError("2 messages were not delivered: broker down")
        self.delivered += self.pending
        self.pending.clear()

    def close(self) -> None:
        pass
