"""The event contract and API bodies as frozen pydantic models. Imports nothing of ours."""

from schemas.events import (
    RULE_NAMES,
    AccountEvent,
    BalanceEvent,
    BreachEvent,
    InputEvent,
    RuleName,
    TickEvent,
    TradeEvent,
    event_json,
    to_jsonable,
)
from schemas.parsing import EventError, parse_event, parse_event_object

__all__ = [
    "RULE_NAMES",
    "AccountEvent",
    "BalanceEvent",
    "BreachEvent",
    "EventError",
    "InputEvent",
    "RuleName",
    "TickEvent",
    "TradeEvent",
    "event_json",
    "parse_event",
    "parse_event_object",
    "to_jsonable",
]
