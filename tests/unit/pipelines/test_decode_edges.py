"""The pipeline's decoder on the edges of the event contract: whatever the bytes, a message
is the contract's event (timestamps in UTC) or a dead letter carrying the contract's
reason with the message's place, and decoding never raises (one bad message must not
stop the dataflow). The worked examples name each kind of input the contract decides.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from infra.bus import BusMessage, DeadLetter
from pipelines.armor import decode
from schemas import AccountEvent, BalanceEvent, TradeEvent, event_json
from schemas.parsing import event_error_reason, validate_event_json
from schemas.records import BalanceRecord, EventDecoder, TradeRecord

Outcome = tuple[str, Any]


def full_outcome(raw: bytes) -> Outcome:
    """What the contract's own validator says: the event, or why not."""
    try:
        return "event", validate_event_json(raw)
    except ValidationError as exc:
        return "rejected", event_error_reason(exc)


def message(raw: bytes, key: bytes = b"A1") -> BusMessage:
    return BusMessage("aetheris.events", 3, 41, key, raw)


def assert_same(raw: bytes) -> None:
    """The pipeline's decode gives the contract's event, or a dead letter with its reason:
    the first time and again once the account is known (the fast path's condition)."""
    kind, expected = full_outcome(raw)
    key = expected.account_id.encode() if kind == "event" else b"A1"
    for _ in range(2):
        decoded = decode(message(raw, key=key))
        if kind == "event":
            assert_same_event(decoded, expected)
        else:
            assert isinstance(decoded, DeadLetter)
            assert decoded.reason == f"aetheris.events[3]@41: {expected}"


def assert_same_event(decoded: object, expected: AccountEvent | BalanceEvent | TradeEvent) -> None:
    """``decoded`` is ``expected``: the same model, or its record with every field equal,
    of the same type (a float stays a float, a tuple a tuple), timestamps in UTC."""
    if isinstance(decoded, BalanceRecord | TradeRecord):
        assert decoded.type == expected.type
        for name in decoded.__struct_fields__:
            value, wanted = getattr(decoded, name), getattr(expected, name)
            assert value == wanted and type(value) is type(wanted), (name, value, wanted)
        assert set(decoded.__struct_fields__) | {"type"} == set(type(expected).model_fields)
        assert decoded.event_time == expected.event_time
        converted: AccountEvent | BalanceEvent | TradeEvent = decoded.to_event()
    else:
        assert type(decoded) is type(expected)
        assert isinstance(decoded, AccountEvent | BalanceEvent | TradeEvent)
        assert decoded.model_fields_set == expected.model_fields_set
        converted = decoded
    assert converted == expected
    assert event_json(converted) == event_json(expected)
    for name in ("ts", "entry_time", "exit_time"):
        stamp = getattr(decoded, name, None)
        assert stamp is None or stamp.tzinfo is UTC, (name, stamp)


BALANCE = {
    "type": "balance",
    "account_id": "A1",
    "ts": "2026-03-02T09:00:00Z",
    "balance": 100000.0,
    "equity": 99850.0,
}
TRADE = {
    "type": "trade",
    "account_id": "A1",
    "broker_trade_id": "T-1001",
    "status": "closed",
    "symbol": "EURUSD",
    "side": "long",
    "quantity": 1.0,
    "entry_price": 1.085,
    "exit_price": 1.08,
    "entry_time": "2026-03-02T09:05:00Z",
    "exit_time": "2026-03-02T09:40:00Z",
    "pnl": -500.0,
    "commission": -7.0,
    "swap": 0.0,
}
ACCOUNT = {
    "type": "account",
    "account_id": "A1",
    "ruleset": "ftmo-2step",
    "initial_balance": 100000,
    "currency": "USD",
}


def line(base: dict[str, Any], **changes: Any) -> bytes:
    payload = {**base, **changes}
    return json.dumps({k: v for k, v in payload.items() if v is not ...}).encode()


def nested(base: dict[str, Any], name: str, depth: int = 100_000) -> bytes:
    """``base`` with ``name`` set to an array nested ``depth`` deep (past any parser's limit)."""
    return (
        line(base, **{name: ...})[:-1] + f',"{name}":'.encode() + b"[" * depth + b"]" * depth + b"}"
    )


WORKED_EXAMPLES = {
    # Timestamps: Z, +00:00 and -00:00 are the same instant; offsets convert to UTC.
    "Z": line(BALANCE),
    "+00:00": line(BALANCE, ts="2026-03-02T09:00:00+00:00"),
    "-00:00": line(BALANCE, ts="2026-03-02T09:00:00-00:00"),
    "lower-case z": line(BALANCE, ts="2026-03-02T09:00:00z"),
    "offset +01:00": line(BALANCE, ts="2026-03-02T10:00:00+01:00"),
    "offset -05:30": line(BALANCE, ts="2026-03-02T03:30:00-05:30"),
    "offset +0100": line(BALANCE, ts="2026-03-02T10:00:00+0100"),
    "offset +01 (hours only)": line(BALANCE, ts="2026-03-02T10:00:00+01"),
    "offset +24:00": line(BALANCE, ts="2026-03-02T10:00:00+24:00"),
    "offset minutes 60": line(BALANCE, ts="2026-03-02T10:00:00+00:60"),
    "naive": line(BALANCE, ts="2026-03-02T09:00:00"),
    "date only": line(BALANCE, ts="2026-03-02"),
    "space separator": line(BALANCE, ts="2026-03-02 09:00:00Z"),
    "fraction .5": line(BALANCE, ts="2026-03-02T09:00:00.5Z"),
    "fraction 6 digits": line(BALANCE, ts="2026-03-02T09:00:00.123456Z"),
    "fraction 9 digits": line(BALANCE, ts="2026-03-02T09:00:00.123456789Z"),
    "fraction comma": line(BALANCE, ts="2026-03-02T09:00:00,25Z"),
    "fraction 7 digits, lower-case z": line(BALANCE, ts="2026-03-02T09:00:00.1234567z"),
    "fraction 7 digits rounding up": line(BALANCE, ts="2026-03-02T09:00:00.9999995Z"),
    "no seconds": line(BALANCE, ts="2026-03-02T09:00Z"),
    "lower-case t": line(BALANCE, ts="2026-03-02t09:00:00Z"),
    "underscore separator": line(BALANCE, ts="2026-03-02_09:00:00Z"),
    "one-digit month": line(BALANCE, ts="2026-3-02T09:00:00Z"),
    "five-digit year": line(BALANCE, ts="+2026-03-02T09:00:00Z"),
    "leading space": line(BALANCE, ts=" 2026-03-02T09:00:00Z"),
    "fraction without digits": line(BALANCE, ts="2026-03-02T09:00:00.Z"),
    "29 February of a common year": line(BALANCE, ts="2026-02-29T09:00:00Z"),
    "leap second": line(BALANCE, ts="2026-06-30T23:59:60Z"),
    "hour 24": line(BALANCE, ts="2026-03-02T24:00:00Z"),
    "unix seconds": line(BALANCE, ts=1772442000),
    "timestamp as a number string": line(BALANCE, ts="1772442000"),
    "first instant, offset east": line(BALANCE, ts="0001-01-01T00:00:00+01:00"),
    "last instant, offset west": line(BALANCE, ts="9999-12-31T23:59:59-01:00"),
    "year 0": line(BALANCE, ts="0000-03-02T09:00:00Z"),
    # Fields: extra, missing, wrong types, numbers at the edges.
    "extra field": line(BALANCE, equitty=1.0),
    "missing equity": line(BALANCE, equity=...),
    "missing type": line(BALANCE, type=...),
    "unknown kind": line(BALANCE, type="tick"),
    "breach is not an input": line(BALANCE, type="breach"),
    "type not a string": line(BALANCE, type=1),
    "balance as a string": line(BALANCE, balance="100000"),
    "balance as a bool": line(BALANCE, balance=True),
    "balance null": line(BALANCE, balance=None),
    "integer balance": line(BALANCE, balance=100000),
    "huge integer": line(BALANCE, balance=10**30),
    "integer beyond a float": line(BALANCE, balance=10**400),
    "2**53 + 1": line(BALANCE, balance=2**53 + 1),
    "negative zero": line(BALANCE, balance=-0.0),
    "tiny": line(BALANCE, balance=5e-324),
    "account id with a space": line(BALANCE, account_id="A 1"),
    "account id with a tab": line(BALANCE, account_id="A\t1"),
    "account id with a no-break space": line(BALANCE, account_id="A\u00a01"),
    "account id, unicode": line(BALANCE, account_id="Ä1"),
    "empty account id": line(BALANCE, account_id=""),
    "account id of 129": line(BALANCE, account_id="A" * 129),
    "account id as a number": line(BALANCE, account_id=1),
    # Trades: the model's own rule on exits, prices above zero.
    "closed trade": line(TRADE),
    "open trade": line(TRADE, status="open", exit_price=..., exit_time=..., pnl=...),
    "open trade with a pnl": line(TRADE, status="open", exit_price=..., exit_time=...),
    "closed trade without exit": line(TRADE, exit_time=...),
    "exit before entry": line(TRADE, exit_time="2026-03-02T09:04:59Z"),
    "exit before entry, by offset": line(TRADE, exit_time="2026-03-02T10:04:59+01:00"),
    "exit at the entry": line(TRADE, exit_time="2026-03-02T09:05:00Z"),
    "exit 9 digits after an entry of 6": line(
        TRADE, entry_time="2026-03-02T09:05:00.000001Z", exit_time="2026-03-02T09:05:00.000001999Z"
    ),
    "open trade with an exit price": line(TRADE, status="open", exit_time=..., pnl=...),
    "closed trade, exit time null": line(TRADE, exit_time=None),
    "closed trade, pnl missing": line(TRADE, pnl=...),
    "stop loss and take profit": line(TRADE, stop_loss=1.08, take_profit=1.095, mfe=12.5, mae=-3),
    "zero stop loss": line(TRADE, stop_loss=0),
    "short trade, integer prices": line(TRADE, side="short", entry_price=5000, exit_price=4990),
    "broker trade id of 129": line(TRADE, broker_trade_id="T" * 129),
    "empty symbol": line(TRADE, symbol=""),
    "exit null": line(TRADE, exit_price=None),
    "zero price": line(TRADE, entry_price=0),
    "negative quantity": line(TRADE, quantity=-1.0),
    "commission null": line(TRADE, commission=None),
    "tags": line(TRADE, tags=["revenge", "news"]),
    "tags not strings": line(TRADE, tags=[1]),
    "tags a string": line(TRADE, tags="revenge"),
    "notes": line(TRADE, notes="late entry"),
    "unknown side": line(TRADE, side="flat"),
    "symbol of 65": line(TRADE, symbol="X" * 65),
    "account": line(ACCOUNT),
    "account with overrides": line(ACCOUNT, overrides={"max_daily_loss": {"percent": 4}}),
    "account, lower-case currency": line(ACCOUNT, currency="usd"),
    # JSON itself.
    "not JSON": b'{"type": "balance", ',
    "not an object": b"[1, 2]",
    "a string": b'"balance"',
    "empty": b"",
    "invalid UTF-8": b'{"type":"balance","account_id":"A\xff"}',
    "lone surrogate": line(BALANCE).replace(b'"A1"', b'"\\ud800"'),
    "duplicate key": b'{"type":"balance","account_id":"A1","account_id":"A2","ts":'
    b'"2026-03-02T09:00:00Z","balance":1,"equity":1}',
    "NaN literal": line(BALANCE, balance=math.nan),
    "Infinity literal": line(BALANCE, equity=math.inf),
    "1e400": line(BALANCE).replace(b"99850.0", b"1e400"),
    "deeply nested": nested(BALANCE, "account_id"),
    "deeply nested tags": nested(TRADE, "tags"),
    "trailing garbage": line(BALANCE) + b"x",
    "trailing newline": line(BALANCE) + b"\n",
}


@pytest.mark.parametrize("raw", WORKED_EXAMPLES.values(), ids=WORKED_EXAMPLES.keys())
def test_worked_examples_are_decided_as_the_contract_decides(raw: bytes) -> None:
    assert_same(raw)


FAST_PATH = [
    "Z", "lower-case z", "space separator", "lower-case t", "fraction .5", "fraction 6 digits",
    "integer balance", "huge integer", "2**53 + 1", "negative zero", "tiny",
    "account id, unicode", "closed trade", "open trade", "exit at the entry", "tags", "notes",
    "stop loss and take profit", "short trade, integer prices", "duplicate key",
    "trailing newline",
]  # fmt: skip
CONTRACT_PATH = [
    "+00:00", "-00:00", "offset +01:00", "offset +0100", "fraction 9 digits",
    "fraction 7 digits, lower-case z", "fraction 7 digits rounding up", "fraction comma",
    "no seconds", "underscore separator", "timestamp as a number string",
    "exit 9 digits after an entry of 6", "account", "account with overrides",
]  # fmt: skip


def test_the_common_lines_take_the_fast_path_and_the_rest_the_contracts_validator() -> None:
    """Which accepted lines become records (msgspec) and which stay the contract's models:
    the fast path takes UTC times in Z with up to six fraction digits, balance and trade
    events of known accounts; any doubt goes to the contract (a rounding of a seventh digit
    by msgspec, a format msgspec does not read, an offset, an account event)."""
    for name in FAST_PATH + CONTRACT_PATH:
        decoder = EventDecoder()
        raw = WORKED_EXAMPLES[name]
        first = decoder(raw)
        assert isinstance(first, AccountEvent | BalanceEvent | TradeEvent), name
        again = decoder(raw)
        fast = isinstance(again, BalanceRecord | TradeRecord)
        assert fast == (name in FAST_PATH), name
        assert_same_event(again, first)


def test_an_account_id_is_checked_by_the_contract_before_the_fast_path_trusts_it() -> None:
    decoder = EventDecoder(known_accounts=2)
    raws = [line(BALANCE, account_id=f"A{n}") for n in range(3)]
    assert [type(decoder(raw)) for raw in raws] == [BalanceEvent] * 3
    # The set was full at A2: emptied, then A2 went in; A0 is checked again, once.
    again = [type(decoder(raws[n])) for n in (2, 0, 0)]
    assert again == [BalanceRecord, BalanceEvent, BalanceRecord]
    with pytest.raises(ValidationError, match="account_id"):
        decoder(line(BALANCE, account_id="A 2"))


def test_worked_examples_cover_acceptance_and_every_kind_of_rejection() -> None:
    kinds = {full_outcome(raw)[0] for raw in WORKED_EXAMPLES.values()}
    assert kinds == {"event", "rejected"}


def test_an_offset_is_converted_to_the_same_instant_in_utc() -> None:
    event = decode(message(WORKED_EXAMPLES["offset -05:30"]))
    assert isinstance(event, BalanceEvent)
    assert event.ts == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert event.ts.tzinfo is UTC


def test_a_timestamp_out_of_range_in_utc_is_a_dead_letter_not_a_crash() -> None:
    letter = decode(message(WORKED_EXAMPLES["first instant, offset east"]))
    assert isinstance(letter, DeadLetter)
    assert letter.reason == (
        "aetheris.events[3]@41: field 'balance.ts': Value error, the timestamp is out of range "
        'in UTC (got "0001-01-01T00:00:00+01:00")'
    )


def test_an_open_trade_with_a_pnl_keeps_its_reason() -> None:
    letter = decode(message(WORKED_EXAMPLES["open trade with a pnl"]))
    assert isinstance(letter, DeadLetter)
    assert letter.reason.endswith("an open trade has no pnl (set status to 'closed')")


# Hypothesis: events assembled from fields that are each right or wrong in one of the ways
# the contract cares about, written as JSON (NaN and Infinity included).

OFFSETS = st.one_of(
    st.just(UTC),
    st.integers(min_value=-24 * 60 + 1, max_value=24 * 60 - 1).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)
INSTANTS = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
)


@st.composite
def timestamps(draw: st.DrawFn) -> Any:
    moment = draw(INSTANTS)
    style = draw(st.sampled_from(["iso", "Z", "z", "space", "naive", "digits", "other"]))
    if style == "other":
        return draw(st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.none()))
    text = moment.replace(tzinfo=draw(OFFSETS)).isoformat()
    if style == "naive":
        return moment.isoformat()
    if style in ("Z", "z") and text.endswith("+00:00"):
        text = text[: -len("+00:00")] + style
    if style == "space":
        text = text.replace("T", " ", 1)
    if style == "digits" and "." in text:
        whole, rest = text.split(".", 1)
        digits = draw(st.text("0123456789", min_size=1, max_size=9))
        text = f"{whole}.{digits}{rest[6:]}"
    return text


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.sampled_from([0, -0.0, 5e-324, 1e308, 2**53 + 1, 2**64, 10**400]),
    st.booleans(),
    st.text(max_size=5),
    st.none(),
)
TEXTS = st.one_of(
    st.text(min_size=0, max_size=3),
    st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=10),
    st.sampled_from(["A1", "SIM00001", "X" * 128, "X" * 129, " ", "A\u2028"]),
    st.integers(),
    st.none(),
)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "account_id": TEXTS,
    "ts": timestamps(),
    "entry_time": timestamps(),
    "exit_time": timestamps(),
    "balance": NUMBERS,
    "equity": NUMBERS,
    "quantity": NUMBERS,
    "entry_price": NUMBERS,
    "exit_price": NUMBERS,
    "pnl": NUMBERS,
    "commission": NUMBERS,
    "swap": NUMBERS,
    "stop_loss": NUMBERS,
    "mfe": NUMBERS,
    "initial_balance": NUMBERS,
    "broker_trade_id": TEXTS,
    "symbol": TEXTS,
    "ruleset": TEXTS,
    "currency": st.sampled_from(["USD", "usd", "EURO", ""]),
    "status": st.sampled_from(["open", "closed", "OPEN", None]),
    "side": st.sampled_from(["long", "short", "flat"]),
    "tags": st.one_of(st.lists(st.text(max_size=3), max_size=2), st.lists(st.integers())),
    "notes": st.one_of(st.text(max_size=5), st.none(), st.integers()),
    "type": st.sampled_from(["balance", "trade", "account", "breach", "", None]),
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(st.sampled_from([BALANCE, TRADE, ACCOUNT]))
    payload = dict(base)
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=4)):
        payload[name] = draw(FIELD_VALUES[name])
    for name in draw(st.lists(st.sampled_from(sorted(payload)), max_size=2)):
        payload.pop(name, None)
    if draw(st.booleans()) and payload.get("type") == "trade" and draw(st.booleans()):
        payload["status"] = "open"
        for name in ("exit_price", "exit_time", "pnl"):
            payload.pop(name, None)
    if draw(st.integers(0, 9)) == 0:
        payload[draw(st.text(min_size=1, max_size=6))] = 1
    return payload


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
@example(dict(BALANCE, ts="2026-03-02T09:00:00.1234567+05:45"))
@example(dict(TRADE, entry_time="2026-03-02T10:40:00+01:00", exit_time="2026-03-02T09:40:00Z"))
def test_generated_events_are_decided_as_the_contract_decides(payload: dict[str, Any]) -> None:
    assert_same(json.dumps(payload).encode())


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([line(BALANCE), line(TRADE), line(ACCOUNT)]),
    st.integers(min_value=0, max_value=400),
    st.binary(max_size=3),
    st.integers(min_value=0, max_value=3),
)
def test_damaged_lines_are_decided_as_the_contract_decides(
    raw: bytes, at: int, inserted: bytes, removed: int
) -> None:
    """A few bytes replaced anywhere in a valid line: the JSON itself going wrong."""
    assume(at <= len(raw))
    assert_same(raw[:at] + inserted + raw[at + removed :])


def test_the_sample_events_decode_to_what_the_contract_builds() -> None:
    """The desk's own events: accounts, balance ticks, open and closed trades."""
    from connectors.simulator import SimulatedDesk, to_event  # noqa: PLC0415

    desk = SimulatedDesk(
        20,
        seed=3,
        start=datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
        tick_interval=timedelta(milliseconds=50),
    )
    seen: set[type] = set()
    for number, record in enumerate(desk.records()):
        if number == 3000:
            break
        event = to_event(record)
        seen.add(type(event))
        assert_same(event_json(event).encode())
    assert seen == {AccountEvent, BalanceEvent, TradeEvent}
