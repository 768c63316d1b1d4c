"""The live-standing port on Redis (redis-py): one pipelined round trip per batch.

Standings are numbered, stored and published by a Lua script, so their ``seq`` comes
from Redis itself (``INCR``): it keeps rising across pipeline restarts and whichever
worker owns the account. One script call handles up to ``STANDINGS_PER_CALL``
consecutive standings: a reply and a command per chunk rather than per standing is what
makes the client side cheap (bench/live_standing.py), and the chunk bounds how long one
call holds the server. Every call is bounded by the socket timeouts.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from infra.live.messages import (
    LiveItem,
    account_channel,
    event_message,
    is_standing,
    sequence_key,
    standing_body,
    standing_key,
)
from infra.live.port import LiveError

# For standing i (1-based): KEYS[2i-1] its key, KEYS[2i] its sequence key; ARGV[2i-1] its
# JSON without seq (ending with "}"), ARGV[2i] its account's channel.
_PUBLISH_STANDINGS = """
for i = 1, #KEYS / 2 do
  local seq = redis.call('INCR', KEYS[2 * i])
  local state = string.sub(ARGV[2 * i - 1], 1, -2) .. ',"seq":' .. seq .. '}'
  redis.call('SET', KEYS[2 * i - 1], state)
  redis.call('PUBLISH', ARGV[2 * i], '{"kind":"state","seq":' .. seq .. ',"state":' .. state .. '}')
end
return #KEYS / 2
"""

STANDINGS_PER_CALL = 256
"""Standings per script call (one call runs on the server without interruption)."""


def redis_client(url: str, timeout_seconds: float) -> redis.Redis[bytes]:
    """A client whose every connect, read and write waits at most ``timeout_seconds``."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
    )


def where(client: redis.Redis[bytes]) -> str:
    """``host:port/db`` of the client, never its credentials (for errors and logs)."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


class RedisLive:
    """Standings to ``{prefix}:standing:{id}`` (SET) and every item to the account's channel
    (PUBLISH), in order, in one pipeline per :meth:`publish`."""

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_PUBLISH_STANDINGS)

    @classmethod
    def from_url(cls, url: str, prefix: str, timeout_seconds: float) -> RedisLive:
        return cls(redis_client(url, timeout_seconds), prefix)

    def publish(self, items: Sequence[LiveItem]) -> None:
        if not items:
            return
        prefix = self._prefix
        pipe = self._client.pipeline(transaction=False)
        keys: list[str] = []
        args: list[str] = []

        def flush_standings() -> None:
            if keys:
                self._script(keys=keys.copy(), args=args.copy(), client=pipe)
                keys.clear()
                args.clear()

        for item in items:
            account_id = item.account_id
            channel = account_channel(prefix, account_id)
            if is_standing(item):
                keys += (standing_key(prefix, account_id), sequence_key(prefix, account_id))
                args += (standing_body(item), channel)
                if len(keys) >= 2 * STANDINGS_PER_CALL:
                    flush_standings()
            else:
                flush_standings()  # keep the order of the account's messages
                pipe.publish(channel, event_message(item))
        flush_standings()
        try:
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise LiveError(
                f"Redis at {where(self._client)}: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            pipe.reset()

    def check(self) -> str | None:
        """None if Redis answers a PING now, else why not (for a warning at start)."""
        try:
            self._client.ping()
        except (redis.RedisError, OSError) as exc:
            return f"Redis at {where(self._client)}: {type(exc).__name__}: {exc}"
        return None

    def close(self) -> None:
        self._client.close()
