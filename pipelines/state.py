"""Cheap snapshots of per-account risk state for Bytewax recovery.

Bytewax snapshots every account touched in an epoch at the epoch's end, on the worker
thread, so the snapshot's cost is a stall of the whole dataflow: 1,000 busy accounts
at 0.5 ms each (``copy.deepcopy`` of an :class:`~risk_engine.AccountState`, whose
ruleset is a nested pydantic model, then pickling it) held every tick for half a
second, every epoch. Here a snapshot is a flat tuple of the state's fields: the ruleset
as its JSON text (computed once per ruleset object), UTC datetimes as integer
microseconds, dates as ordinals and trading days as a triple, because pickle handles
those primitives about fifteen times faster than the objects; containers are copied.
Thawing gives back an equal state. A snapshot of an earlier layout that lacks fields
added since (at the end) thaws with their defaults; any other layout is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from risk_engine import AccountState
from risk_engine.calendar import TradingDay
from schemas.rulesets import Ruleset

_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AccountState))


def layout_of(fields: tuple[str, ...]) -> str:
    """The name of a field layout: a snapshot says which fields it holds, in order."""
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:12]


LAYOUT = layout_of(_FIELDS)
# Earlier layouts whose snapshots still thaw: fields added after them take their
# defaults. Before account status (status, status_until, status_rule) came last.
_FIELDS_BY_LAYOUT: dict[str, tuple[str, ...]] = {
    layout_of(fields): fields for fields in (_FIELDS, _FIELDS[: _FIELDS.index("status")])
}

StateSnapshot = tuple[str, str, tuple[object, ...]]
"""``(layout, how each field is written (one letter each), field values)``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_ruleset_texts: dict[int, tuple[Ruleset, str]] = {}


def _ruleset_text(ruleset: Ruleset) -> str:
    found = _ruleset_texts.get(id(ruleset))
    if found is None or found[0] is not ruleset:
        found = (ruleset, ruleset.model_dump_json())
        _ruleset_texts[id(ruleset)] = found
    return found[1]


@lru_cache(maxsize=4096)
def _ruleset_from_text(text: str) -> Ruleset:
    return Ruleset.model_validate_json(text)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


def _from_micros(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


def _is_utc(value: object) -> bool:
    return type(value) is datetime and value.tzinfo is UTC


# How a field is written, one letter per field (keep the letters: stores hold them):
#   =  as is          r  ruleset as JSON text     t  UTC datetime as microseconds
#   y  trading day as (date ordinal, start µs, end µs)
#   c  container, copied (its items are immutable: str, int, tuples)
#   L/S  list/set of UTC datetimes as microseconds    l/s  list/set of dates as ordinals


def _encode_ruleset(value: Ruleset) -> tuple[str, object]:
    return "r", _ruleset_text(value)


def _encode_datetime(value: datetime) -> tuple[str, object]:
    return ("t", _micros(value)) if value.tzinfo is UTC else ("=", value)


def _encode_day(value: TradingDay) -> tuple[str, object]:
    if value.start.tzinfo is UTC and value.end.tzinfo is UTC:
        return "y", (value.label.toordinal(), _micros(value.start), _micros(value.end))
    return "=", value


def _encode_items(value: list[Any] | set[Any]) -> tuple[str, object]:
    listed = type(value) is list
    if value:
        if all(_is_utc(item) for item in value):
            return ("L" if listed else "S"), [_micros(item) for item in value]
        if all(type(item) is date for item in value):
            return ("l" if listed else "s"), [item.toordinal() for item in value]
    return "c", value.copy()


def _encode_dict(value: dict[object, object]) -> tuple[str, object]:
    return "c", value.copy()


_ENCODERS: dict[type, Callable[[Any], tuple[str, object]]] = {
    Ruleset: _encode_ruleset,
    datetime: _encode_datetime,
    TradingDay: _encode_day,
    list: _encode_items,
    set: _encode_items,
    dict: _encode_dict,
}


def _decode(how: str, payload: Any) -> object:
    if how == "=":
        return payload
    if how == "r":
        return _ruleset_from_text(payload)
    if how == "t":
        return _from_micros(payload)
    if how == "y":
        label, start, end = payload
        return TradingDay(date.fromordinal(label), _from_micros(start), _from_micros(end))
    if how == "c":
        return payload.copy()
    if how in "LS":
        items: list[object] = [_from_micros(item) for item in payload]
        return items if how == "L" else set(items)
    if how in "ls":
        days: list[object] = [date.fromordinal(item) for item in payload]
        return days if how == "l" else set(days)
    raise ValueError(f"recovery snapshot holds an unknown field encoding {how!r}")


def encode(value: object) -> tuple[str, object]:
    """``(how, payload)``: one field's value as a snapshot holds it (see the letters above)."""
    encoder = _ENCODERS.get(type(value))
    return ("=", value) if encoder is None else encoder(value)


def freeze_generic(state: AccountState) -> StateSnapshot:
    """:func:`freeze`, field by field through the encoders: the reference it must equal."""
    hows: list[str] = []
    values: list[object] = []
    for name in _FIELDS:
        how, payload = encode(getattr(state, name))
        hows.append(how)
        values.append(payload)
    return LAYOUT, "".join(hows), tuple(values)


# freeze, compiled for AccountState's fields: a snapshot freezes every account that changed
# in the epoch at its end, on the worker thread, so this loop is a stall of the dataflow
# (1,000 busy accounts: ~20 ms field by field, ~8 ms compiled; docs/pipeline.md). The
# code for a field is chosen by its annotation and gives what ``freeze_generic`` gives.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _plain_kind(hint: object) -> object:
    """A ``Literal`` of strings (or ints) is written as those values are: as it is."""
    if typing.get_origin(hint) is typing.Literal:
        kinds = {type(value) for value in typing.get_args(hint)}
        return kinds.pop() if len(kinds) == 1 else hint
    return hint


def _field_code(number: int, name: str, hint: object) -> tuple[list[str], str, str]:
    """``(statements, how, value)``: Python source freezing one field of ``state``."""
    union = typing.get_origin(hint) in (types.UnionType, typing.Union)
    kinds = {_plain_kind(kind) for kind in (typing.get_args(hint) if union else (hint,))}
    origin = typing.get_origin(hint)
    item = typing.get_args(hint)[0] if origin in (list, set) else None
    read = f"x = state.{name}"
    h, v = f"h{number}", f"v{number}"
    if kinds <= _PLAIN:
        return [], "=", f"state.{name}"
    if hint is Ruleset:
        return [], "r", f"_ruleset_text(state.{name})"
    if kinds - {type(None)} == {datetime}:
        return (
            [
                read,
                "if type(x) is datetime and x.tzinfo is UTC:",
                f"    {h} = 't'; {v} = (x - _EPOCH) // _MICROSECOND",
                f"else: {h} = '='; {v} = x",
            ],
            f"{{{h}}}",
            v,
        )
    if kinds - {type(None)} == {TradingDay}:
        return (
            [
                read,
                "if type(x) is TradingDay and x.start.tzinfo is UTC and x.end.tzinfo is UTC:",
                f"    {h} = 'y'; {v} = (x.label.toordinal(), (x.start - _EPOCH) // _MICROSECOND,"
                " (x.end - _EPOCH) // _MICROSECOND)",
                f"else: {h} = '='; {v} = x",
            ],
            f"{{{h}}}",
            v,
        )
    if origin in (list, set) and item in (datetime, date):
        letter = {(list, datetime): "L", (set, datetime): "S", (list, date): "l"}.get(
            (origin, item), "s"
        )
        convert = (
            "[(d - _EPOCH) // _MICROSECOND for d in x if type(d) is datetime and d.tzinfo is UTC]"
            if item is datetime
            else "[d.toordinal() for d in x if type(d) is date]"
        )
        return (
            [
                read,
                f"{v} = {convert}",
                f"if x and len({v}) == len(x): {h} = '{letter}'",
                f"else: {h}, {v} = encode(x)",
            ],
            f"{{{h}}}",
            v,
        )
    if origin in (list, set, dict):  # of immutable items (str, int): copied as they are
        return [], "c", f"state.{name}.copy()"
    return [f"{h}, {v} = encode(state.{name})"], f"{{{h}}}", v


def compile_freeze(cls: type[Any], layout: str) -> Callable[[Any], StateSnapshot]:
    """A function freezing an instance of the dataclass ``cls`` as ``freeze_generic`` does
    (with ``layout``): each field read once, its encoding chosen by its annotation, the
    generic encoders for annotations it does not know."""
    hints = typing.get_type_hints(cls)
    body: list[str] = []
    hows: list[str] = []
    values: list[str] = []
    for number, name in enumerate(f.name for f in dataclasses.fields(cls)):
        statements, how, value = _field_code(number, name, hints[name])
        body += statements
        hows.append(how)
        values.append(value)
    source = "\n".join(
        [
            "def freeze(state):",
            *(f"    {line}" for line in body),
            f'    return LAYOUT, f"{"".join(hows)}", ({", ".join(values)},)',
        ]
    )
    scope: dict[str, Any] = {
        "LAYOUT": layout,
        "UTC": UTC,
        "TradingDay": TradingDay,
        "datetime": datetime,
        "date": date,
        "_EPOCH": _EPOCH,
        "_MICROSECOND": _MICROSECOND,
        "_ruleset_text": _ruleset_text,
        "encode": encode,
    }
    exec(compile(source, "<pipelines.state.freeze>", "exec"), scope)  # noqa: S102 - our own code
    compiled: Callable[[Any], StateSnapshot] = scope["freeze"]
    return compiled


freeze: Callable[[AccountState], StateSnapshot] = compile_freeze(AccountState, LAYOUT)
"""An immutable, cheaply pickled copy of an account's state (compiled: no wrapper call)."""


def check_layout(layout: str) -> tuple[str, ...]:
    """The fields a snapshot of ``layout`` holds; refuse a layout this version cannot read."""
    fields = _FIELDS_BY_LAYOUT.get(layout)
    if fields is None:
        raise ValueError(
            f"recovery snapshot of account state layout {layout}, this version has {LAYOUT}: "
            "the recovery store belongs to another version; replay from the topic instead"
        )
    return fields


def thaw(snapshot: StateSnapshot) -> AccountState:
    """The state a snapshot was taken of."""
    layout, hows, values = snapshot
    names = check_layout(layout)
    fields = {
        name: _decode(how, value) for name, how, value in zip(names, hows, values, strict=True)
    }
    return AccountState(**fields)  # type: ignore[arg-type]
