"""The live-standing port on Redis (redis-py): one pipelined round trip per batch.

A standing is numbered, stored and published by one Lua script, so its ``seq`` comes
from Redis itself (``INCR``): it keeps rising across pipeline restarts and whichever
worker owns the account. Every call is bounded by the socket timeouts.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from infra.live.messages import (
    LiveItem,
    account_channel,
    event_message,
    sequence_key,
    standing_body,
    standing_key,
)
from infra.live.port import LiveError
from schemas.state import AccountSnapshot

# KEYS: standing key, sequence key. ARGV: the standing's JSON without seq, the channel.
_PUBLISH_STANDING = """
local seq = redis.call('INCR', KEYS[2])
local state = string.sub(ARGV[1], 1, -2) .. ',"seq":' .. seq .. '}'
redis.call('SET', KEYS[1], state)
redis.call('PUBLISH', ARGV[2], '{"kind":"state","seq":' .. seq .. ',"state":' .. state .. '}')
return seq
"""


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
        self._script = client.register_script(_PUBLISH_STANDING)

    @classmethod
    def from_url(cls, url: str, prefix: str, timeout_seconds: float) -> RedisLive:
        return cls(redis_client(url, timeout_seconds), prefix)

    def publish(self, items: Sequence[LiveItem]) -> None:
        if not items:
            return
        prefix = self._prefix
        pipe = self._client.pipeline(transaction=False)
        for item in items:
            channel = account_channel(prefix, item.account_id)
            if isinstance(item, AccountSnapshot):
                self._script(
                    keys=[
                        standing_key(prefix, item.account_id),
                        sequence_key(prefix, item.account_id),
                    ],
                    args=[standing_body(item), channel],
                    client=pipe,
                )
            else:
                pipe.publish(channel, event_message(item))
        try:
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise LiveError(
                f"Redis at {where(self._client)}: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            pipe.reset()

    def close(self) -> None:
        self._client.close()
