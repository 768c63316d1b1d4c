"""The pipeline's live account standings, read from Redis.

The stream side keeps ``{prefix}:standing:{account_id}`` set to the JSON of the account's
:class:`schemas.state.AccountSnapshot`; the API reads many at once with one MGET.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis
from pydantic import ValidationError

from infra.live.memory import InMemoryLive
from infra.live.messages import standing_key
from schemas.state import AccountSnapshot

log = logging.getLogger(__name__)


class RedisStandings:
    """:class:`api.ports.Standings` over Redis; an unreadable value counts as unknown."""

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountSnapshot]:
        if not account_ids:
            return {}
        values = self._client.mget([standing_key(self._prefix, a) for a in account_ids])
        found: dict[str, AccountSnapshot] = {}
        for account_id, value in zip(account_ids, values, strict=True):
            if value is None:
                continue
            try:
                found[account_id] = AccountSnapshot.model_validate_json(value)
            except ValidationError as exc:
                log.warning(
                    "standing of account %s in Redis is not readable (%d errors); shown as unknown",
                    account_id,
                    exc.error_count(),
                )
        return found


class TwinStandings:
    """:class:`api.ports.Standings` over this process's in-memory twin (the embedded demo)."""

    def __init__(self, live: InMemoryLive) -> None:
        self._live = live

    def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountSnapshot]:
        found: dict[str, AccountSnapshot] = {}
        for account_id in account_ids:
            standing = self._live.standing(account_id)
            if standing is not None:
                found[account_id] = standing
        return found
