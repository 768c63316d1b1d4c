"""FIX tag/value fields of an ExecutionReport → :class:`ExecutionReport` (pure).

Every error names the tag and the value, so a sync log says what was wrong and where.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from connectors.fix import wire
from connectors.fix.wire import ExecutionReport


class FixMessageError(ValueError):
    """An ExecutionReport the connector cannot use; the message names the tag."""


_UTC_TIMESTAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})$")

# The contract's limits on a trade id and a symbol.
MAX_ID_LENGTH = 128
MAX_SYMBOL_LENGTH = 64

FILL_TYPES = (wire.EXEC_TYPE_TRADE, *wire.EXEC_TYPE_LEGACY_FILLS)
ADJUSTING_TYPES = (wire.EXEC_TYPE_TRADE_CORRECT, wire.EXEC_TYPE_TRADE_CANCEL)


def parse_utc_timestamp(text: str, tag: int) -> datetime:
    """A FIX UTCTimestamp (``YYYYMMDD-HH:MM:SS`` with optional ``.sss`` … ``.sssssssss``)."""
    base, _, fraction = text.partition(".")
    parts = _UTC_TIMESTAMP.match(base)
    try:
        if parts is None:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(p) for p in parts.groups())
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise FixMessageError(
            f"tag {tag}: {text!r} is not a UTCTimestamp (YYYYMMDD-HH:MM:SS[.sss])"
        ) from None
    if fraction:
        if not fraction.isdigit() or len(fraction) > 9:
            raise FixMessageError(f"tag {tag}: {text!r} has a bad fraction of a second")
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return moment


def _required(fields: Mapping[int, str], tag: int, name: str) -> str:
    value = fields.get(tag)
    if value is None or value == "":
        raise FixMessageError(f"tag {tag} ({name}) is missing")
    return value


def _number(fields: Mapping[int, str], tag: int, name: str, *, positive: bool) -> float:
    text = _required(fields, tag, name)
    try:
        value = float(text)
    except ValueError:
        raise FixMessageError(f"tag {tag} ({name}): {text!r} is not a number") from None
    if not math.isfinite(value) or (positive and value <= 0) or value < 0:
        need = "a positive number" if positive else "zero or more"
        raise FixMessageError(f"tag {tag} ({name}): {text!r} must be {need}")
    return value


def is_relevant(fields: Mapping[int, str]) -> bool:
    """Does this ExecutionReport change positions (a fill, a correction or a cancel)?

    New, replaced, cancelled and rejected orders (ExecType 0, 5, 4, 8 …) move nothing."""
    exec_type = fields.get(wire.TAG_EXEC_TYPE)
    return exec_type in FILL_TYPES or exec_type in ADJUSTING_TYPES


def parse_execution_report(fields: Mapping[int, str]) -> ExecutionReport:
    """The fill, correction or cancel in ``fields`` (tag → value of one 35=8 message)."""
    exec_type = _required(fields, wire.TAG_EXEC_TYPE, "ExecType")
    if exec_type not in FILL_TYPES and exec_type not in ADJUSTING_TYPES:
        raise FixMessageError(f"tag 150 (ExecType): {exec_type!r} is not a fill, G or H")
    exec_id = _required(fields, wire.TAG_EXEC_ID, "ExecID")
    if len(exec_id) > MAX_ID_LENGTH:
        raise FixMessageError(f"tag 17 (ExecID) is longer than {MAX_ID_LENGTH} characters")
    symbol = _required(fields, wire.TAG_SYMBOL, "Symbol")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise FixMessageError(f"tag 55 (Symbol) is longer than {MAX_SYMBOL_LENGTH} characters")
    exec_ref_id = fields.get(wire.TAG_EXEC_REF_ID) or None
    if exec_type in ADJUSTING_TYPES and exec_ref_id is None:
        raise FixMessageError(
            f"tag 19 (ExecRefID) is missing: ExecType {exec_type} must name the fill it changes"
        )
    side_code = _required(fields, wire.TAG_SIDE, "Side")
    if side_code in wire.BUY_SIDES:
        side: str = "buy"
    elif side_code in wire.SELL_SIDES:
        side = "sell"
    else:
        raise FixMessageError(f"tag 54 (Side): {side_code!r} is not a buy (1) or a sell (2, 5, 6)")
    cancel = exec_type == wire.EXEC_TYPE_TRADE_CANCEL
    last_qty = 0.0 if cancel else _number(fields, wire.TAG_LAST_QTY, "LastQty", positive=True)
    last_px = 0.0 if cancel else _number(fields, wire.TAG_LAST_PX, "LastPx", positive=True)
    time_text = fields.get(wire.TAG_TRANSACT_TIME) or fields.get(wire.TAG_SENDING_TIME)
    if not time_text:
        raise FixMessageError("tag 60 (TransactTime) and tag 52 (SendingTime) are both missing")
    time_tag = wire.TAG_TRANSACT_TIME if fields.get(wire.TAG_TRANSACT_TIME) else 52
    commission = 0.0
    if fields.get(wire.TAG_COMMISSION):
        commission = _number(fields, wire.TAG_COMMISSION, "Commission", positive=False)
        comm_type = fields.get(wire.TAG_COMM_TYPE) or wire.COMM_ABSOLUTE
        if comm_type == wire.COMM_PER_UNIT:
            commission *= last_qty
        elif comm_type != wire.COMM_ABSOLUTE:
            raise FixMessageError(
                f"tag 13 (CommType): {comm_type!r} is not supported (1 per unit, 3 absolute)"
            )
    return ExecutionReport(
        exec_id=exec_id,
        exec_type=exec_type,
        symbol=symbol,
        side="buy" if side == "buy" else "sell",
        last_qty=last_qty,
        last_px=last_px,
        transact_time=parse_utc_timestamp(time_text, time_tag),
        commission=commission,
        exec_ref_id=exec_ref_id,
        order_id=fields.get(wire.TAG_ORDER_ID) or None,
        account=fields.get(wire.TAG_ACCOUNT) or None,
        poss_dup=fields.get(wire.TAG_POSS_DUP) == "Y",
    )
