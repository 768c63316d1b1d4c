"""Where an account's live standing goes and what the messages look like.

For an account ``A1`` under the prefix ``aetheris`` (``AETHERIS_REDIS_PREFIX``):

- ``aetheris:standing:A1`` holds the latest standing: the JSON of
  :class:`schemas.state.AccountSnapshot`, ``seq`` included, so a reader parses it with
  ``AccountSnapshot.model_validate_json``;
- ``aetheris:standing-seq:A1`` counts the standings published (``seq``);
- channel ``aetheris:account:A1`` carries one JSON message per change, with a ``kind``:
  ``{"kind": "state", "state": {…standing…}, "seq": N}``,
  ``{"kind": "breach", "breach": {…breach event…}}``,
  ``{"kind": "status", "status": {…status event…}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from typing_extensions import TypeIs

from schemas import BreachEvent, StatusEvent, event_json
from schemas.state import AccountSnapshot


@dataclass(frozen=True, slots=True)
class Standing:
    """An account's standing as plain values, named and nested as
    :class:`~schemas.state.AccountSnapshot`'s fields (``risk_engine.snapshot_fields``):
    what the pipeline publishes, written as the model's JSON without building the model."""

    account_id: str
    fields: Mapping[str, object]


LiveStanding = AccountSnapshot | Standing
LiveEvent = BreachEvent | StatusEvent
LiveItem = AccountSnapshot | Standing | BreachEvent | StatusEvent
"""What the pipeline publishes live: standings, breaches and status changes."""


def is_standing(item: LiveItem) -> TypeIs[LiveStanding]:
    return isinstance(item, (Standing, AccountSnapshot))


def standing_key(prefix: str, account_id: str) -> str:
    return f"{prefix}:standing:{account_id}"


def sequence_key(prefix: str, account_id: str) -> str:
    return f"{prefix}:standing-seq:{account_id}"


def account_channel(prefix: str, account_id: str) -> str:
    return f"{prefix}:account:{account_id}"


def standing_body(standing: LiveStanding) -> str:
    """The standing's JSON without ``seq``: the publisher numbers it (it ends with ``}``).

    Plain values are written by orjson (timestamps in UTC with ``Z``, dates as
    ``YYYY-MM-DD``, floats in their shortest form), as pydantic writes the model: the
    same JSON value, at a fraction of the cost (a test holds them equal)."""
    if isinstance(standing, Standing):
        return orjson.dumps(standing.fields, option=orjson.OPT_UTC_Z).decode()
    return standing.model_dump_json(exclude={"seq"})


def with_seq(body: str, seq: int) -> str:
    """``standing_body`` with ``"seq": seq`` added as its last field."""
    return f'{body[:-1]},"seq":{seq}}}'


def state_message(numbered: str, seq: int) -> str:
    return f'{{"kind":"state","seq":{seq},"state":{numbered}}}'


def event_message(event: LiveEvent) -> str:
    """A breach or status change as its channel message."""
    kind = "breach" if isinstance(event, BreachEvent) else "status"
    return f'{{"kind":"{kind}","{kind}":{event_json(event)}}}'
