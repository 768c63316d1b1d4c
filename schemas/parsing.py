"""Parsing a JSON line into a contract event, with errors that name where and which field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas.events import AccountEvent, BalanceEvent, InputEvent, TradeEvent

_EVENT_ADAPTER: TypeAdapter[AccountEvent | BalanceEvent | TradeEvent] = TypeAdapter(InputEvent)


class EventError(ValueError):
    """A message that is not a valid contract event.

    ``where`` says which message (``line 12``, ``aetheris.trades[0]@1043``);
    ``reason`` says what is wrong, naming the field.
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field and what is wrong with it."""
    parts: list[str] = []
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        field = ".".join(loc) if loc else "event"
        kind = item["type"]
        message = item["msg"]
        if kind == "extra_forbidden":
            message = "unknown field (not in the event contract)"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "union_tag_invalid":
            field = "type"
            message = "expected one of 'account', 'balance', 'trade'"
        elif kind == "union_tag_not_found":
            field = "type"
            message = "required field is missing (one of 'account', 'balance', 'trade')"
        if kind in ("union_tag_invalid", "json_invalid") or (
            kind not in ("missing", "extra_forbidden", "union_tag_not_found")
            and not isinstance(item.get("input"), dict)
        ):
            got = item.get("input")
            if kind == "union_tag_invalid" and isinstance(got, dict):
                got = got.get("type")
            message = f"{message} (got {json.dumps(got, default=str)[:80]})"
        parts.append(f"field '{field}': {message}" if kind != "json_invalid" else message)
    return "; ".join(parts) or str(error)


def validate_event_json(raw: str | bytes) -> AccountEvent | BalanceEvent | TradeEvent:
    """:func:`parse_event` without the error translation, for hot loops: raises pydantic's
    ``ValidationError``, which :func:`event_error_reason` turns into the same reason."""
    return _EVENT_ADAPTER.validate_json(raw, strict=True)


def event_json_validator() -> Callable[..., AccountEvent | BalanceEvent | TradeEvent]:
    """:func:`validate_event_json`'s compiled validator itself, called as
    ``validate(raw, strict=True)``: the same checks and errors without the adapter's
    Python wrapper around each call (for loops over tens of thousands of messages)."""
    return _EVENT_ADAPTER.validator.validate_json


def event_error_reason(error: ValidationError) -> str:
    """Why a line is not a contract event, naming the field (what :class:`EventError` says)."""
    first = error.errors()[0]
    if first["type"] == "json_invalid":
        return f"not valid JSON ({first['msg']})"
    if first["type"] == "model_attributes_type":
        return "expected a JSON object"
    return describe_validation_error(error)


def parse_event(raw: str | bytes, where: str) -> AccountEvent | BalanceEvent | TradeEvent:
    """Parse one JSON object (a line or a message value) or raise :class:`EventError`."""
    try:
        return _EVENT_ADAPTER.validate_json(raw, strict=True)
    except ValidationError as exc:
        raise EventError(where, event_error_reason(exc)) from None


def parse_event_object(payload: Any, where: str) -> AccountEvent | BalanceEvent | TradeEvent:
    """Validate an already-decoded JSON object as an input event (same rules as a line)."""
    if not isinstance(payload, dict):
        raise EventError(where, f"expected a JSON object, got {type(payload).__name__}")
    return parse_event(json.dumps(payload), where)
