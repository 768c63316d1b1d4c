"""Live account standing: a small port, a Redis adapter and an in-process twin.

``open_live(settings)`` picks the adapter: Redis when ``REDIS_URL`` is set, otherwise
this process's in-memory twin (the embedded default). Keys, channels and messages:
:mod:`infra.live.messages`, docs/live-standing.md.
"""

from __future__ import annotations

from infra.live.memory import InMemoryLive, Subscription
from infra.live.messages import (
    LiveEvent,
    LiveItem,
    LiveStanding,
    Standing,
    account_channel,
    event_message,
    is_standing,
    sequence_key,
    standing_key,
)
from infra.live.port import LiveError, LivePublisher
from infra.settings import Settings

_IN_PROCESS: dict[str, InMemoryLive] = {}


def in_process_live(prefix: str = "aetheris") -> InMemoryLive:
    """This process's in-memory twin for ``prefix`` (one per process and prefix)."""
    found = _IN_PROCESS.get(prefix)
    if found is None:
        found = _IN_PROCESS[prefix] = InMemoryLive(prefix)
    return found


def open_live(settings: Settings) -> LivePublisher:
    """Redis if ``REDIS_URL`` is set, else the in-process twin."""
    if settings.redis_url:
        from infra.live.redis_store import RedisLive  # noqa: PLC0415 - off the embedded path

        return RedisLive.from_url(
            settings.redis_url, settings.redis_prefix, settings.redis_timeout_seconds
        )
    return in_process_live(settings.redis_prefix)


__all__ = [
    "InMemoryLive",
    "LiveError",
    "LiveEvent",
    "LiveItem",
    "LivePublisher",
    "LiveStanding",
    "Standing",
    "Subscription",
    "account_channel",
    "event_message",
    "in_process_live",
    "is_standing",
    "open_live",
    "sequence_key",
    "standing_key",
]
