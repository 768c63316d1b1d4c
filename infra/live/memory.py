"""The live-standing port in this process: the embedded default's twin of Redis.

Same keys, same messages, same ``seq`` numbering as :mod:`infra.live.redis_store`;
subscribers get each message of their accounts' channels on a bounded queue. A
subscriber that falls behind loses the messages its full queue cannot take (counted in
``dropped``) and is marked ``overflowed``, so its reader can close it; publishing never
waits for a subscriber.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence

from infra.live.messages import (
    LiveItem,
    account_channel,
    event_message,
    is_standing,
    standing_body,
    standing_key,
    state_message,
    with_seq,
)
from schemas.state import AccountSnapshot

DEFAULT_QUEUE = 1_000


class Subscription:
    """Messages ``(channel, message)`` of some channels, oldest first, on a bounded queue."""

    def __init__(self, owner: InMemoryLive, channels: frozenset[str] | None, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a subscription queue holds at least one message")
        self._owner = owner
        self.channels = channels
        self.capacity = capacity
        self._queue: deque[tuple[str, str]] = deque()
        self._ready = threading.Condition()
        self.dropped = 0
        self.closed = False

    @property
    def overflowed(self) -> bool:
        return self.dropped > 0

    def offer(self, channel: str, message: str) -> None:
        with self._ready:
            if len(self._queue) >= self.capacity:
                self.dropped += 1
                return
            self._queue.append((channel, message))
            self._ready.notify()

    def get(self, timeout: float) -> tuple[str, str] | None:
        """The next message, waiting at most ``timeout`` seconds (None: nothing came)."""
        with self._ready:
            if not self._queue and not self.closed:
                self._ready.wait(timeout)
            return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self._owner.unsubscribe(self)
        with self._ready:
            self.closed = True
            self._ready.notify_all()


class InMemoryLive:
    """Keys, sequence counters and channels in memory; thread-safe."""

    def __init__(self, prefix: str = "aetheris") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._keys: dict[str, str] = {}
        self._seq: dict[str, int] = {}
        self._subscriptions: list[Subscription] = []

    def publish(self, items: Sequence[LiveItem]) -> None:
        prefix = self.prefix
        with self._lock:
            out: list[tuple[str, str]] = []
            for item in items:
                channel = account_channel(prefix, item.account_id)
                if is_standing(item):
                    seq = self._seq.get(item.account_id, 0) + 1
                    self._seq[item.account_id] = seq
                    numbered = with_seq(standing_body(item), seq)
                    self._keys[standing_key(prefix, item.account_id)] = numbered
                    out.append((channel, state_message(numbered, seq)))
                else:
                    out.append((channel, event_message(item)))
            subscriptions = list(self._subscriptions)
        for channel, message in out:
            for subscription in subscriptions:
                if subscription.channels is None or channel in subscription.channels:
                    subscription.offer(channel, message)

    def close(self) -> None:
        """Nothing to release: the twin lives as long as its process."""

    def raw(self, key: str) -> str | None:
        with self._lock:
            return self._keys.get(key)

    def standing(self, account_id: str) -> AccountSnapshot | None:
        """The latest standing published for the account, as a reader of the key sees it."""
        text = self.raw(standing_key(self.prefix, account_id))
        return None if text is None else AccountSnapshot.model_validate_json(text)

    def subscribe(
        self, account_ids: Iterable[str] | None = None, capacity: int = DEFAULT_QUEUE
    ) -> Subscription:
        """Messages of these accounts' channels (None: every account)."""
        channels = (
            None
            if account_ids is None
            else frozenset(account_channel(self.prefix, account) for account in account_ids)
        )
        subscription = Subscription(self, channels, capacity)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
