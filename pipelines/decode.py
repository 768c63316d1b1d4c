"""Decoding a bus message's value into a contract event: the contract's own checks,
without a Python function call per timestamp.

The contract is ``schemas``' pydantic validation (strict, unknown fields rejected), whose
timestamps go through a Python ``AfterValidator`` (``value.astimezone(UTC)``) each. The
pipeline's validator is built from that same core schema with one change: the UTC
conversion is ``operator.methodcaller("astimezone", UTC)``, the same call made from C, so
pydantic-core runs no Python frame for a balance event at all. Every check, limit and
error stays the contract's; a message it rejects is validated again by the contract's own
validator, so its dead letter carries exactly the reason it always had.

Measured (BENCHMARKS.md, issue 16 item 5): the conversion was a small part of the
validator's 2.6 µs per event, which is pydantic-core's parsing, checking and building;
an orjson fast path with the checks in Python measured slower than the validator.

A timestamp whose UTC conversion leaves Python's calendar (``0001-01-01T00:00:00+01:00``)
makes the C conversion raise ``OverflowError``; the contract's validator then rejects it
with a validation error that names the field (``schemas.events``), so one such message
is a dead letter and cannot stop the dataflow.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC
from typing import Any, Final

from pydantic import AfterValidator, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator

from schemas import AccountEvent, BalanceEvent, TradeEvent
from schemas import InputEvent as ContractInputEvent
from schemas.parsing import event_error_reason, event_json_validator

InputEvent = AccountEvent | BalanceEvent | TradeEvent


def _utc_conversions() -> tuple[Callable[..., Any], ...]:
    """The contract's timestamp conversions: the ``AfterValidator`` functions of its
    timestamp fields (``UtcDatetime``)."""
    found = {
        item.func
        for model in (BalanceEvent, TradeEvent)
        for field in model.model_fields.values()
        for item in field.metadata
        if isinstance(item, AfterValidator)
    }
    return tuple(found)


_TO_UTC: Final = operator.methodcaller("astimezone", UTC)
"""``value.astimezone(UTC)``, what the contract's conversion does, called from C."""


def without_python_conversions(
    schema: Any, conversions: tuple[Callable[..., Any], ...], replaced: list[int] | None = None
) -> Any:
    """A copy of the core ``schema`` in which each call of one of ``conversions`` (a
    no-info ``function-after``) calls :data:`_TO_UTC` instead; all else is kept as is.
    ``replaced`` (a one-item counter) counts the calls replaced."""
    counter = replaced if replaced is not None else [0]
    if isinstance(schema, list):
        return [without_python_conversions(item, conversions, counter) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copied = {key: without_python_conversions(v, conversions, counter) for key, v in schema.items()}
    function = schema.get("function")
    if (
        schema.get("type") == "function-after"
        and isinstance(function, dict)
        and function.get("type") == "no-info"
        and function.get("function") in conversions
    ):
        copied["function"] = {**function, "function": _TO_UTC}
        counter[0] += 1
    return copied


def _build_fast_validator() -> tuple[Callable[..., InputEvent], int]:
    conversions = _utc_conversions()
    replaced = [0]
    schema = without_python_conversions(
        TypeAdapter(ContractInputEvent).core_schema, conversions, replaced
    )
    if len(conversions) != 1 or replaced[0] == 0:
        # The contract's timestamps changed shape: keep its own validator (correct, slower).
        return event_json_validator(), 0
    validate: Callable[..., InputEvent] = SchemaValidator(schema).validate_json
    return validate, replaced[0]


FAST_VALIDATOR, FAST_CONVERSIONS = _build_fast_validator()
"""The contract's validator with its UTC conversions in C (how many it converts), called
as ``FAST_VALIDATOR(raw, strict=True)``; raises on anything it does not accept (then
:func:`validate_value` decides)."""
_FULL: Final = event_json_validator()


def validate_value(raw: bytes) -> InputEvent:
    """The contract's own check (``schemas``, strict): raises pydantic's
    ``ValidationError``."""
    return _FULL(raw, strict=True)


def decode_value(raw: bytes) -> InputEvent:
    """``raw`` as a contract event; a message the fast validator does not accept is decided
    by :func:`validate_value` (which raises, :func:`rejection_reason` says why)."""
    try:
        return FAST_VALIDATOR(raw, strict=True)
    except (ValidationError, OverflowError):
        return validate_value(raw)


def rejection_reason(error: ValidationError) -> str:
    """Why a message is not a contract event, naming the field (as ``EventError`` does)."""
    return event_error_reason(error)
