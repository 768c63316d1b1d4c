"""The event contract and API bodies as frozen pydantic models. Imports nothing of ours."""

from schemas.events import (
    ACCOUNT_STATUSES,
    RULE_NAMES,
    AccountEvent,
    AccountStatus,
    BalanceEvent,
    BreachEvent,
    InputEvent,
    OutputEvent,
    RuleName,
    StatusEvent,
    TickEvent,
    TradeEvent,
    event_json,
    to_jsonable,
)
from schemas.parsing import EventError, parse_event, parse_event_object

__all__ = [
    "ACCOUNT_STATUSES",
    "RULE_NAMES",
    "AccountEvent",
    "AccountStatus",
    "BalanceEvent",
    "BreachEvent",
    "EventError",
    "InputEvent",
    "OutputEvent",
    "RuleName",
    "StatusEvent",
    "TickEvent",
    "TradeEvent",
    "event_json",
    "parse_event",
    "parse_event_object",
    "to_jsonable",
]
