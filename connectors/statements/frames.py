"""The columnar import of a statement: a batch of trades held as ONE polars frame from
parse to store, with the rules of :mod:`connectors.statements.plan` applied column-wise.
Pure (frames in, frames out).

- :func:`split_repeats`: first occurrences, exact repeats, conflicting repeats (errors);
- :func:`classify`: new / updated / duplicate against the stored statuses;
- :func:`timeline`: new and updated trades in event-time order with the running balance
  and the balance event each closed one gives;
- :func:`event_lines`: the events' JSON lines (what :func:`infra.bus.events.event_bytes`
  writes for each event, byte for byte), built column by column.

The per-row path (``plan.py``) stays the reference: the equivalence test runs both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import polars as pl

from connectors.statements.model import ParseContext, ParsedStatement, RowError
from schemas.events import BalanceEvent, TradeEvent

_TIME = pl.Datetime("us", "UTC")
TRADE_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "broker_trade_id": pl.String(),
    "status": pl.String(),
    "symbol": pl.String(),
    "side": pl.String(),
    "quantity": pl.Float64(),
    "entry_price": pl.Float64(),
    "entry_time": _TIME,
    "exit_price": pl.Float64(),
    "exit_time": _TIME,
    "pnl": pl.Float64(),
    "commission": pl.Float64(),
    "swap": pl.Float64(),
    "stop_loss": pl.Float64(),
    "take_profit": pl.Float64(),
    "notes": pl.String(),
    "row": pl.Int64(),
}
"""A trade event's fields (``mfe``/``mae`` unset, no ``tags``: a statement has none) and
the file row it came from."""
TRADE_FIELDS = tuple(name for name in TRADE_SCHEMA if name != "row")
_KEY = ("broker_trade_id", "status")
_TRADE_FIELDS_SET = frozenset(TRADE_FIELDS)


@dataclass(slots=True)
class FrameStatement:
    """A parsed file whose trades are a frame: ``parsed`` holds everything else (errors,
    rows seen, meta) with no trade objects."""

    parsed: ParsedStatement
    trades: pl.DataFrame


@runtime_checkable
class ColumnarFormat(Protocol):
    """A statement format that can also give its trades as one frame."""

    def parse_frame(self, data: bytes, ctx: ParseContext) -> FrameStatement: ...


def empty_trades() -> pl.DataFrame:
    return pl.DataFrame(schema=TRADE_SCHEMA)


def trade_record(trade: TradeEvent) -> dict[str, Any]:
    """A trade event's fields as a frame row (without ``row``)."""
    return {name: getattr(trade, name) for name in TRADE_FIELDS}


def trade_events(frame: pl.DataFrame) -> list[TradeEvent]:
    """The frame's rows as contract events (for the few rows that need objects: updated
    trades). The rows come from validated values, so they are not validated again."""
    return [
        TradeEvent.model_construct(set(_TRADE_FIELDS_SET), **record)
        for record in frame.select(TRADE_FIELDS).iter_rows(named=True)
    ]


# -- plan --------------------------------------------------------------------------------


def split_repeats(
    trades: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, list[RowError]]:
    """(first occurrences, exact repeats, conflicting repeats as errors): a trade id seen
    again with the same status and the same values is a repeat, with other values an
    error naming the first row (``plan.split_repeats``)."""
    marked = trades.with_columns(pl.col("row").first().over(_KEY).alias("first_row"))
    later = marked.filter(pl.col("row") != pl.col("first_row"))
    unique = marked.filter(pl.col("row") == pl.col("first_row")).drop("first_row")
    if later.is_empty():
        return unique, later.drop("first_row"), []
    firsts = unique.select(
        *_KEY, *[pl.col(n).alias(f"{n}__first") for n in TRADE_FIELDS if n not in _KEY]
    )
    joined = later.join(firsts, on=list(_KEY), how="left", nulls_equal=True)
    same = pl.all_horizontal(
        [pl.col(n).eq_missing(pl.col(f"{n}__first")) for n in TRADE_FIELDS if n not in _KEY]
    )
    joined = joined.with_columns(same.alias("same")).sort("row")
    repeats = joined.filter(pl.col("same")).select(list(TRADE_SCHEMA))
    errors = [
        RowError(
            row,
            "trade id",
            f"trade {trade_id!r} appears again with other values "
            f"(first at row {first_row}); the first one is kept",
        )
        for trade_id, row, first_row in joined.filter(~pl.col("same"))
        .select("broker_trade_id", "row", "first_row")
        .iter_rows()
    ]
    return unique, repeats, errors


def with_stored(trades: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """``trades`` with ``stored_status``: the status stored for its id, or null.
    ``stored``: ``broker_trade_id``, ``stored_status`` (one row per id)."""
    return trades.join(stored, on="broker_trade_id", how="left", maintain_order="left")


def stored_as_is() -> pl.Expr:
    """Stored as it is (a stored closed trade, or a stored open trade still open), so it
    changes nothing; over a frame :func:`with_stored` made."""
    status = pl.col("stored_status")
    return ((status == "closed") | ((status == "open") & (pl.col("status") == "open"))).fill_null(
        False
    )


@dataclass(slots=True)
class Classified:
    """The trades that passed the checks, by outcome (``plan.plan``'s classification)."""

    new: pl.DataFrame
    updated: pl.DataFrame
    duplicate: int


def classify(good: pl.DataFrame) -> Classified:
    """A file may hold a trade's open and closed rows (the closed one decides); a trade
    not stored is new, a stored open trade the file shows closed is updated, anything
    else a duplicate. ``good``: with ``stored_status`` (:func:`with_stored`)."""
    closed_ids = good.filter(pl.col("status") == "closed")["broker_trade_id"]
    status = pl.col("stored_status")
    outcome = (
        pl.when(
            (pl.col("status") == "open") & pl.col("broker_trade_id").is_in(closed_ids.implode())
        )
        .then(pl.lit("duplicate"))
        .when(status.is_null())
        .then(pl.lit("new"))
        .when((status == "open") & (pl.col("status") == "closed"))
        .then(pl.lit("updated"))
        .otherwise(pl.lit("duplicate"))
    )
    marked = good.with_columns(outcome.alias("outcome"))
    new = marked.filter(pl.col("outcome") == "new").select(list(TRADE_SCHEMA))
    updated = marked.filter(pl.col("outcome") == "updated").select(list(TRADE_SCHEMA))
    return Classified(new, updated, good.height - new.height - updated.height)


def first_event_time(classified: Classified) -> datetime | None:
    times = pl.concat([classified.new, classified.updated]).select(
        pl.coalesce("exit_time", "entry_time").min()
    )
    value = times.item()
    return None if value is None else value.astimezone(UTC)


def running_balance(start: float, pnls: pl.Series) -> pl.Series:
    """``balance = round(balance + pnl, 8)`` after each closed trade, as ``plan.plan``
    does. As a cumulative sum in integer units of 1e-8 when that is exact: every value
    within 1e-10 of an 8-decimal number and below 1e7 in size (then a float sum of two
    of them is within 4e-9 of the exact one, so rounding it gives the integer sum, and
    ``units / 1e8`` is the float ``round`` returns); else step by step."""
    if pnls.is_empty():
        return pl.Series("balance", [], dtype=pl.Float64)
    scaled = pl.concat([pl.Series([start], dtype=pl.Float64), pnls.cast(pl.Float64)]) * 1e8
    units = scaled.round()
    if bool(((scaled - units).abs() < 0.01).all()) and bool((scaled.abs() < 1e15).all()):
        running = units.cast(pl.Int64).cum_sum()
        if bool((running.abs() < 10**15).all()):
            # numpy divides (correctly rounded: the float nearest units * 1e-8, what
            # round() returns); polars may multiply by the reciprocal instead.
            exact = running.slice(1).cast(pl.Float64).to_numpy() / 1e8
            return pl.Series("balance", exact, dtype=pl.Float64)
    balances: list[float] = []
    balance = start
    for pnl in pnls.to_list():
        balance = round(balance + pnl, 8)
        balances.append(balance)
    return pl.Series("balance", balances, dtype=pl.Float64)


def timeline(
    classified: Classified, account_id: str, start: float | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the new and updated trades in event-time order — ties: new before updated, then
    file order — each with ``tick_balance``, the balance after it or null; the balance
    events as a frame ``account_id, ts, balance, equity``)."""
    ordered = (
        pl.concat(
            [
                classified.new.with_columns(pl.lit(0).alias("group")),
                classified.updated.with_columns(pl.lit(1).alias("group")),
            ]
        )
        .with_columns(pl.coalesce("exit_time", "entry_time").alias("event_time"))
        .sort("event_time", "group", "row")
    )
    moves = (pl.col("status") == "closed") & pl.col("pnl").is_not_null()
    balances = pl.Series("tick_balance", [None] * ordered.height, dtype=pl.Float64)
    if start is not None:
        at = ordered.with_row_index("at").filter(moves)
        running = running_balance(start, at["pnl"])
        if not bool(running.is_finite().all()):  # the model refuses it, as in plan.plan
            bad = float(running.filter(~running.is_finite())[0])
            BalanceEvent(account_id=account_id, ts=datetime.now(UTC), balance=bad, equity=bad)
        balances = balances.scatter(at["at"], running)
    ordered = ordered.with_columns(balances)
    ticks = ordered.filter(pl.col("tick_balance").is_not_null()).select(
        pl.lit(account_id, dtype=pl.String()).alias("account_id"),
        pl.col("event_time").alias("ts"),
        pl.col("tick_balance").alias("balance"),
        pl.col("tick_balance").alias("equity"),
    )
    return ordered, ticks


# -- JSON lines ---------------------------------------------------------------------------


_ESCAPED = r'["\\\x00-\x1f]'  # what a JSON string writes escaped


def _json_text(value: str) -> str:
    """One text as a JSON string, escaped as orjson escapes it."""
    encoded: str = pl.DataFrame({"v": [value]}).select(pl.struct("v").struct.json_encode()).item()
    return encoded[5:-1]


def _json_string(frame: pl.DataFrame, name: str) -> list[pl.Expr]:
    """A text column as JSON strings (quotes and escapes as orjson writes them), as
    pieces to concatenate: quoted as it is when no value needs an escape (the usual
    case, and the cheap one)."""
    if not frame.select(pl.col(name).str.contains(_ESCAPED).any()).item():
        return [pl.lit('"'), pl.col(name), pl.lit('"')]
    encoded = pl.struct(pl.col(name).alias("v")).struct.json_encode()
    sliced = encoded.str.slice(5, encoded.str.len_chars() - 6)
    return [pl.when(pl.col(name).is_not_null()).then(sliced)]


def _json_time(frame: pl.DataFrame, name: str) -> list[pl.Expr]:
    """A UTC time column as orjson writes it with ``OPT_UTC_Z`` (microseconds only when
    set; one format for the whole column when no value has any)."""
    column = pl.col(name)
    whole = column.dt.to_string('"%Y-%m-%dT%H:%M:%SZ"')
    if not frame.select((column.dt.microsecond() != 0).any()).item():
        return [whole]
    fraction = column.dt.to_string('"%Y-%m-%dT%H:%M:%S%.6fZ"')
    return [pl.when(column.dt.microsecond() == 0).then(whole).otherwise(fraction)]


def _pieces(frame: pl.DataFrame, name: str, kind: str) -> list[pl.Expr]:
    """``,"name":value`` as pieces to concatenate; a column with nulls gives one piece
    that is empty where the value is null (``None`` is left out), a column of nulls
    none at all."""
    nulls = frame[name].null_count()
    if nulls == frame.height:
        return []
    if kind == "text":
        value = _json_string(frame, name)
    elif kind == "time":
        value = _json_time(frame, name)
    else:
        value = [pl.col(name).cast(pl.String())]
    pieces = [pl.lit(f',"{name}":'), *value]
    if nulls == 0:
        return pieces
    return [pl.concat_str(pieces).fill_null("")]


_ORDER = (
    ("account_id", "text"),
    ("broker_trade_id", "text"),
    ("status", "text"),
    ("symbol", "text"),
    ("side", "text"),
    ("quantity", "number"),
    ("entry_price", "number"),
    ("entry_time", "time"),
    ("exit_price", "number"),
    ("exit_time", "time"),
    ("pnl", "number"),
    ("commission", "number"),
    ("swap", "number"),
    ("stop_loss", "number"),
    ("take_profit", "number"),
)


def trade_json(frame: pl.DataFrame) -> pl.Expr:
    """A trade row's JSON line over ``frame``: the model's field order, ``None`` left
    out, ``tags`` as ``[]`` (``event_bytes``)."""
    parts: list[pl.Expr] = [pl.lit('{"type":"trade"')]
    for name, kind in _ORDER:
        parts += _pieces(frame, name, kind)
    parts.append(pl.lit(',"tags":[]'))
    parts += _pieces(frame, "notes", "text")
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def tick_json(frame: pl.DataFrame, account_id: str) -> pl.Expr:
    """The balance event after a trade (``tick_balance``, at the trade's event time)."""
    balance = pl.col("tick_balance").cast(pl.String())
    return pl.concat_str(
        pl.lit(f'{{"type":"balance","account_id":{_json_text(account_id)},"ts":'),
        *_json_time(frame, "event_time"),
        pl.lit(',"balance":'),
        balance,
        pl.lit(',"equity":'),
        balance,
        pl.lit("}"),
    )


def event_lines(ordered: pl.DataFrame, account_id: str) -> list[bytes]:
    """The events of :func:`timeline`'s frame in publishing order: each trade's line,
    then its balance event's line when it has one."""
    if ordered.is_empty():
        return []
    indexed = ordered.with_row_index("i").with_columns(pl.col("i").cast(pl.Int64) * 2)
    trades = indexed.select(trade_json(indexed).alias("line"), pl.col("i").alias("at"))
    with_tick = indexed.filter(pl.col("tick_balance").is_not_null())
    ticks = with_tick.select(
        tick_json(with_tick, account_id).alias("line"), (pl.col("i") + 1).alias("at")
    )
    lines = pl.concat([trades, ticks]).sort("at")["line"]
    return lines.cast(pl.Binary).to_list()
