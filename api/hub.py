"""Fan-out of breaches to WebSocket clients, fed from any thread."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence

from schemas import BreachEvent, event_json


class BreachHub:
    """Keeps the latest breaches and pushes each new one to every connected client."""

    def __init__(self, keep: int = 200, queue_size: int = 1_000) -> None:
        self._recent: deque[str] = deque(maxlen=keep)
        self._clients: set[asyncio.Queue[str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._queue_size = queue_size
        self.dropped = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach the event loop that serves the WebSockets."""
        self._loop = loop

    def publish(self, breaches: Sequence[BreachEvent]) -> None:
        """Called by the pipeline's breach output (any thread)."""
        lines = [event_json(breach) for breach in breaches]
        with self._lock:
            self._recent.extend(lines)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._fan_out, lines)

    def recent(self) -> list[str]:
        with self._lock:
            return list(self._recent)

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(self._queue_size)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._clients.discard(queue)

    def _fan_out(self, lines: list[str]) -> None:
        for queue in list(self._clients):
            for line in lines:
                try:
                    queue.put_nowait(line)
                except asyncio.QueueFull:  # a stalled client loses messages, not the server
                    self.dropped += 1
