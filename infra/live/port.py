"""The live-standing port: where the pipeline publishes standings, breaches and status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from infra.live.messages import LiveItem


class LiveError(RuntimeError):
    """Publishing failed (the store is unreachable, timed out, or refused); says why."""


class LivePublisher(Protocol):
    """Sets each standing's key and publishes every item on its account's channel.

    ``publish`` handles the items in order and either publishes all of them or raises
    :class:`LiveError` (some may have gone out: items are idempotent to repeat, except
    that a repeated standing gets the next ``seq``). Every call has a bounded wait.
    """

    def publish(self, items: Sequence[LiveItem]) -> None: ...

    def close(self) -> None: ...
