"""The balance and trade events as compact records, and the pipeline's fast decoder.

The pydantic models of :mod:`schemas.events` are the contract: they decide what is a valid
event and say why one is not. They cost, per message, more than the risk engine's own
work: validating a balance line takes pydantic-core about as long as applying it, and
every attribute read on a pydantic model goes through its generic ``__getattr__`` hook.

:class:`EventDecoder` decodes the common lines (a balance or trade event, UTC timestamps
with at most six fraction digits, an account id already accepted) with msgspec into
:class:`BalanceRecord` / :class:`TradeRecord` — slotted structs with the same fields,
values and ``event_time`` as the models, which the risk engine reads as it reads the
models. Every other line, and any line the fast path has the least doubt about, goes
to the contract's own validator, which returns the pydantic event or raises its
``ValidationError``: the fast path only ever accepts what the contract accepts, with
the same values (tests/unit/pipelines/test_decode_edges.py holds the two equal on the
edges of the contract), and never decides a rejection.

What the fast path leaves to the contract, and why:

- account events and anything not tagged ``balance`` or ``trade``;
- a timestamp that is not UTC (``Z``), or has more than six fraction digits (msgspec
  rounds them, pydantic truncates);
- an account id not yet seen in an event the contract accepted (the id's pattern is
  checked once per account, not per message);
- a trade breaking the model's own rule (an ``open`` trade with exit fields, a
  ``closed`` one without them, an exit before the entry).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Final, Literal

import msgspec
from msgspec import Meta

from schemas.events import AccountEvent, BalanceEvent, TradeEvent
from schemas.parsing import event_json_validator

_LARGEST: Final = 1.7976931348623157e308
_Money = Annotated[float, Meta(ge=-_LARGEST, le=_LARGEST)]
_Positive = Annotated[float, Meta(gt=0.0, le=_LARGEST)]


class BalanceRecord(msgspec.Struct, frozen=True, gc=False):
    """A ``balance`` event (:class:`schemas.events.BalanceEvent`'s fields), as decoded."""

    type: ClassVar[Literal["balance"]] = "balance"
    account_id: str
    ts: datetime
    balance: float
    equity: float

    @property
    def event_time(self) -> datetime:
        return self.ts

    def to_event(self) -> BalanceEvent:
        """The contract's model of this event (validated)."""
        return BalanceEvent(
            account_id=self.account_id, ts=self.ts, balance=self.balance, equity=self.equity
        )


class TradeRecord(msgspec.Struct, frozen=True, gc=False):
    """A ``trade`` event (:class:`schemas.events.TradeEvent`'s fields), as decoded."""

    type: ClassVar[Literal["trade"]] = "trade"
    account_id: str
    broker_trade_id: str
    status: Literal["open", "closed"]
    symbol: str
    side: Literal["long", "short"]
    quantity: float
    entry_price: float
    entry_time: datetime
    exit_price: float | None
    exit_time: datetime | None
    pnl: float | None
    commission: float
    swap: float
    stop_loss: float | None
    take_profit: float | None
    mfe: float | None
    mae: float | None
    tags: tuple[str, ...]
    notes: str | None

    @property
    def event_time(self) -> datetime:
        """When this event happened: the exit for a closed trade, the entry for an open one."""
        if self.exit_time is not None:
            return self.exit_time
        return self.entry_time

    def to_event(self) -> TradeEvent:
        """The contract's model of this event (validated)."""
        return TradeEvent(**{name: getattr(self, name) for name in self.__struct_fields__})


def as_record(
    event: AccountEvent | BalanceEvent | TradeEvent,
) -> AccountEvent | BalanceRecord | TradeRecord:
    """The record of a balance or trade model, field for field (what the fast path would
    decode from its JSON); an account event as it is."""
    if isinstance(event, BalanceEvent):
        return BalanceRecord(event.account_id, event.ts, event.balance, event.equity)
    if isinstance(event, TradeEvent):
        return TradeRecord(**{name: getattr(event, name) for name in TradeRecord.__struct_fields__})
    return event


# The lines as sent, for msgspec: the contract's field checks that cost nothing in C
# (types, lengths, bounds, literals, unknown fields); timestamps stay text for _utc.
class _BalanceLine(msgspec.Struct, tag="balance", tag_field="type", forbid_unknown_fields=True):
    account_id: str
    ts: str
    balance: _Money
    equity: _Money


class _TradeLine(msgspec.Struct, tag="trade", tag_field="type", forbid_unknown_fields=True):
    account_id: str
    broker_trade_id: Annotated[str, Meta(min_length=1, max_length=128)]
    status: Literal["open", "closed"]
    symbol: Annotated[str, Meta(min_length=1, max_length=64)]
    side: Literal["long", "short"]
    quantity: _Positive
    entry_price: _Positive
    entry_time: str
    exit_price: _Positive | None = None
    exit_time: str | None = None
    pnl: _Money | None = None
    commission: _Money = 0.0
    swap: _Money = 0.0
    stop_loss: _Positive | None = None
    take_profit: _Positive | None = None
    mfe: _Money | None = None
    mae: _Money | None = None
    tags: tuple[str, ...] = ()
    notes: str | None = None


_LINES: Final = msgspec.json.Decoder(_BalanceLine | _TradeLine)
_UTC_TEXT: Final = len("2026-03-02T09:00:00.123456Z")
_CONVERT: Final = msgspec.convert


def _utc(text: str) -> datetime | None:
    """``text`` as a UTC datetime when it is an RFC 3339 time in ``Z`` with at most six
    fraction digits (the year's four digits make the length say so); else None."""
    if len(text) > _UTC_TEXT or text[-1:] not in ("Z", "z"):
        return None
    try:
        stamp: datetime = _CONVERT(text, datetime)
    except msgspec.ValidationError:
        return None
    return stamp if stamp.tzinfo is UTC else None


Decoded = AccountEvent | BalanceEvent | TradeEvent | BalanceRecord | TradeRecord
"""What :class:`EventDecoder` returns: a record on the fast path, else the contract's model."""


class EventDecoder:
    """Decode one bus message's JSON as the contract does: a record or the contract's
    event, or pydantic's ``ValidationError`` with the contract's reason (module doc).

    Holds the account ids the contract accepted (up to ``known_accounts``; the set is
    emptied when full, which only sends lines back to the contract's validator once).
    """

    def __init__(self, known_accounts: int = 100_000) -> None:
        self._known: set[str] = set()
        self._limit = known_accounts
        self._validate = event_json_validator()

    def contract(self, raw: bytes) -> AccountEvent | BalanceEvent | TradeEvent:
        """The contract's validator alone (raises ``ValidationError``); remembers the
        account id of an accepted event."""
        event = self._validate(raw, strict=True)
        known = self._known
        if len(known) >= self._limit:
            known.clear()
        known.add(event.account_id)
        return event

    def __call__(self, raw: bytes) -> Decoded:
        try:
            line = _LINES.decode(raw)
        except (msgspec.DecodeError, ValueError):  # ValueError: not UTF-8
            return self.contract(raw)
        if line.account_id not in self._known:
            return self.contract(raw)
        if type(line) is _BalanceLine:
            ts = _utc(line.ts)
            if ts is None:
                return self.contract(raw)
            return BalanceRecord(line.account_id, ts, line.balance, line.equity)
        assert type(line) is _TradeLine
        entry = _utc(line.entry_time)
        if entry is None:
            return self.contract(raw)
        exit_text = line.exit_time
        exit_time = None
        if line.status == "closed":
            if exit_text is None or line.exit_price is None or line.pnl is None:
                return self.contract(raw)
            exit_time = _utc(exit_text)
            if exit_time is None or exit_time < entry:
                return self.contract(raw)
        elif exit_text is not None or line.exit_price is not None or line.pnl is not None:
            return self.contract(raw)
        return TradeRecord(
            line.account_id, line.broker_trade_id, line.status, line.symbol, line.side,
            line.quantity, line.entry_price, entry, line.exit_price, exit_time, line.pnl,
            line.commission, line.swap, line.stop_loss, line.take_profit, line.mfe,
            line.mae, line.tags, line.notes,
        )  # fmt: skip
