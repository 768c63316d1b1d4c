"""A CSV with a column mapping → contract trades. Pure (bytes in, events out).

Columns are read with polars and converted column-wise (numbers, times, sides), so a
million-row file is read in seconds; a value polars cannot cast is read again with the
broker-number rules (``1 536.11``, ``$(41.25)``; :mod:`connectors.statements.numbers`).
A row with a bad value becomes a :class:`RowError` (its line number, the column, why)
and the rest of the file still imports. Line numbers assume one line per row (no line
breaks inside quoted cells).

Times: a ``time_format`` with ``%z`` reads each time's own offset (trusted); otherwise
times are in the context's time zone (``--timezone``) or, without one, the mapping's
``timezone`` (default UTC).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import ValidationError

from connectors.generic_csv.wire import (
    FIELDS,
    NUMBER_FIELDS,
    REQUIRED,
    TIME_FIELDS,
    ColumnMapping,
)
from connectors.statements.frames import (
    TRADE_SCHEMA,
    FrameStatement,
    empty_trades,
    trade_record,
)
from connectors.statements.model import ParseContext, ParsedStatement, StatementMeta
from connectors.statements.numbers import parse_amount
from connectors.statements.rows import RowProblem, trade_error_reason
from connectors.statements.timezones import NewYorkPlusSeven, TimezoneError, resolve_timezone
from schemas.events import TradeEvent

_ROW = "__row"
_UTF8_BOM = b"\xef\xbb\xbf"


def _utf8(data: bytes) -> bytes:
    if data.startswith(_UTF8_BOM):
        return data[len(_UTF8_BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1").encode("utf-8")
    return data


def _to_utc(column: pl.Expr, tz: tzinfo) -> pl.Expr:
    """Naive wall-clock times in ``tz`` → UTC, column-wise."""
    if isinstance(tz, NewYorkPlusSeven):
        return (column - pl.duration(hours=7)).dt.replace_time_zone(
            "America/New_York", ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC") + pl.duration(hours=7)
    if isinstance(tz, ZoneInfo):
        return column.dt.replace_time_zone(
            tz.key, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")
    offset = tz.utcoffset(None) if isinstance(tz, timezone) else None
    if offset is None and tz is not UTC:
        raise TimezoneError(f"cannot convert times in {tz!r}")
    shift = offset or timedelta(0)
    return (
        column - pl.duration(microseconds=int(shift / timedelta(microseconds=1)))
    ).dt.replace_time_zone("UTC")


class _Errors:
    def __init__(self) -> None:
        self.by_row: dict[int, tuple[str, str]] = {}

    def add(self, row: int, where: str, reason: str) -> None:
        self.by_row.setdefault(row, (where, reason))


def frame_headers(data: bytes, delimiter: str) -> set[str]:
    """The header cells of the first line (for the optional default columns)."""
    first = _utf8(data[:65536]).split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return {cell.strip().strip('"') for cell in first.rstrip("\r").split(delimiter)}


def _numbers(df: pl.DataFrame, name: str, header: str, decimal: str, errors: _Errors) -> pl.Series:
    text = df[name]
    fast = (
        text.cast(pl.Float64, strict=False)
        if decimal == "."
        else pl.Series(name, [None] * len(text), dtype=pl.Float64)
    )
    redo = df.select(
        pl.col(_ROW), pl.col(name), (fast.is_null() & (pl.col(name) != "")).alias("redo")
    ).filter(pl.col("redo"))
    if redo.is_empty():
        return fast
    values = fast.to_list()
    for row, raw in redo.select(_ROW, name).iter_rows():
        try:
            values[row - 2] = parse_amount(raw, decimal=decimal)
        except ValueError as exc:
            errors.add(row, header, str(exc))
    return pl.Series(name, values, dtype=pl.Float64)


@dataclass(slots=True)
class _Table:
    """The file read and converted column-wise: the values of each row in the contract's
    field names (``__row``: its line), the rows with a bad value, and which of the others
    the vectorised checks prove valid."""

    parsed: ParsedStatement
    table: pl.DataFrame
    has: set[str]
    columns: dict[str, str]
    errors: _Errors
    clean: pl.Series


def _read(data: bytes, mapping: ColumnMapping, ctx: ParseContext, *, fast: bool) -> _Table:
    parsed = ParsedStatement(meta=StatementMeta(broker="generic CSV"))
    fmt = mapping.format
    columns = mapping.mapped()
    empty = _Table(
        parsed, pl.DataFrame(), set(), columns, _Errors(), pl.Series([], dtype=pl.Boolean)
    )
    # An optional column left at its default name (the contract field) may be absent.
    for name in [n for n, h in columns.items() if n not in REQUIRED and n == h]:
        if name not in columns or columns[name] in frame_headers(data, fmt.delimiter):
            continue
        del columns[name]
    try:
        frame = pl.read_csv(
            io.BytesIO(_utf8(data)),
            separator=fmt.delimiter,
            infer_schema=False,
            has_header=True,
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        parsed.error(None, "file", f"not a readable CSV ({str(exc).splitlines()[0]})")
        return empty
    missing = [header for header in columns.values() if header not in frame.columns]
    missing_required = [f for f in REQUIRED if columns.get(f) is None or columns[f] in missing]
    if missing_required or missing:
        parsed.error(
            1,
            "header",
            f"missing column(s) {', '.join(repr(m) for m in missing)} named in the mapping "
            f"(headers found: {', '.join(repr(c) for c in frame.columns)})",
        )
        return empty
    try:
        zone = ctx.timezone or resolve_timezone(fmt.timezone)
    except TimezoneError as exc:
        parsed.error(None, "mapping format.timezone", str(exc))
        return empty
    df = frame.select(
        [
            pl.col(header).str.strip_chars().fill_null("").alias(name)
            for name, header in columns.items()
        ]
    ).with_columns(pl.int_range(2, frame.height + 2).alias(_ROW))
    parsed.rows_seen = df.height
    errors = _Errors()
    converted: dict[str, pl.Series] = {}
    for name in NUMBER_FIELDS:
        if name in columns:
            converted[name] = _numbers(df, name, columns[name], fmt.decimal, errors)
    with_offset = "%z" in fmt.time_format
    for name in TIME_FIELDS:
        if name not in columns:
            continue
        parsed_time = pl.col(name).str.strptime(pl.Datetime("us"), fmt.time_format, strict=False)
        utc = parsed_time.dt.convert_time_zone("UTC") if with_offset else _to_utc(parsed_time, zone)
        times = df.select(utc.alias(name))[name]
        bad = (
            df.select(_ROW, name)
            .with_columns(times.alias("t"))
            .filter(pl.col("t").is_null() & (pl.col(name) != ""))
        )
        for row, raw in bad.select(_ROW, name).iter_rows():
            errors.add(
                row,
                columns[name],
                f"{raw!r} is not a time in the format {fmt.time_format!r} (or does not exist "
                "in the time zone)",
            )
        converted[name] = times
    side = df["side"].str.to_lowercase()
    sides = side.replace_strict(
        {**dict.fromkeys(fmt.long, "long"), **dict.fromkeys(fmt.short, "short")},
        default=None,
    )
    table = df.with_columns(*converted.values(), sides.alias("side"))
    for row, raw in df.select(_ROW, "side").filter(sides.is_null()).iter_rows():
        errors.add(
            row,
            columns["side"],
            f"{raw!r} is not a side (long: {', '.join(fmt.long)}; short: {', '.join(fmt.short)})",
        )
    has = set(columns)
    # Rows the vectorised checks prove valid skip the per-row model validation (same
    # values, same event); every other row goes through it and gets its exact reason.
    clean = (
        _clean(table, has, fmt.pnl_is_net, ctx)
        if fast
        else pl.Series("ok", [False] * table.height, dtype=pl.Boolean)
    )
    return _Table(parsed, table, has, columns, errors, clean)


def _report_errors(read: _Table, data: bytes) -> None:
    if read.errors.by_row:
        lines = _utf8(data).split(b"\n")
        for row, (where, reason) in sorted(read.errors.by_row.items()):
            raw = lines[row - 1].decode("utf-8", errors="replace").rstrip("\r")
            read.parsed.error(row, where, reason, raw)


def _model_trade(
    read: _Table,
    values: tuple[Any, ...],
    names: list[str],
    mapping: ColumnMapping,
    ctx: ParseContext,
) -> TradeEvent | None:
    """A row the vectorised checks did not prove valid, through the contract model (its
    exact reason recorded when the model refuses it)."""
    row = values[names.index(_ROW)]
    record: dict[str, Any] = dict(zip(names, values, strict=True))
    del record[_ROW]
    try:
        return _trade(record, read.has, mapping.format.pnl_is_net, ctx)
    except ValidationError as exc:
        read.errors.add(row, "row", trade_error_reason(exc))
    except RowProblem as exc:
        read.errors.add(row, read.columns.get(exc.where, exc.where), exc.reason)
    return None


def parse_generic(
    data: bytes, mapping: ColumnMapping, ctx: ParseContext, *, fast: bool = True
) -> ParsedStatement:
    """The whole CSV (see the module doc). ``fast=False`` validates every row through the
    contract model (the reference the fast path is tested against)."""
    read = _read(data, mapping, ctx, fast=fast)
    parsed, table = read.parsed, read.table
    if table.is_empty():
        _report_errors(read, data)
        return parsed
    names = table.columns
    build = _Builder(names, read.has, mapping.format.pnl_is_net, ctx.account_id)
    row_at = names.index(_ROW)
    for values, trusted in zip(table.iter_rows(), read.clean.to_list(), strict=True):
        row = values[row_at]
        if row in read.errors.by_row:
            continue
        if trusted:
            parsed.add_trade(build(values), row)
            continue
        trade = _model_trade(read, values, names, mapping, ctx)
        if trade is not None:
            parsed.add_trade(trade, row)
    _report_errors(read, data)
    return parsed


def parse_generic_frame(data: bytes, mapping: ColumnMapping, ctx: ParseContext) -> FrameStatement:
    """The whole CSV as one frame of contract trades (:data:`TRADE_SCHEMA`, a ``row``
    column with each trade's line), in file order, with exactly the trades, rows and
    errors of :func:`parse_generic`: the rows the vectorised checks prove valid are
    converted column by column, the others go through the contract model one by one."""
    read = _read(data, mapping, ctx, fast=True)
    parsed, table = read.parsed, read.table
    if table.is_empty():
        _report_errors(read, data)
        return FrameStatement(parsed, empty_trades())
    bad_rows = pl.Series(list(read.errors.by_row), dtype=pl.Int64)
    usable = table.with_columns(read.clean.alias("__clean")).filter(
        ~pl.col(_ROW).is_in(bad_rows.implode())
    )
    trusted = usable.filter(pl.col("__clean")).drop("__clean")
    frames = [_trusted_frame(trusted, read.has, mapping.format.pnl_is_net, ctx.account_id)]
    others = usable.filter(~pl.col("__clean")).drop("__clean")
    names = others.columns
    row_at = names.index(_ROW) if names else 0
    modelled: list[dict[str, Any]] = []
    for values in others.iter_rows():
        trade = _model_trade(read, values, names, mapping, ctx)
        if trade is not None:
            modelled.append({**trade_record(trade), "row": values[row_at]})
    if modelled:
        frames.append(pl.DataFrame(modelled, schema=TRADE_SCHEMA, orient="row"))
    trades = pl.concat(frames).sort("row")
    _report_errors(read, data)
    return FrameStatement(parsed, trades)


def _trusted_frame(
    table: pl.DataFrame, has: set[str], pnl_is_net: bool, account_id: str
) -> pl.DataFrame:
    """What :class:`_Builder` makes of each row, column-wise (the rows are proved valid)."""

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in has else pl.lit(None, dtype=dtype)

    def or_none(name: str) -> pl.Expr:  # `value or None`
        value = col(name, pl.Float64())
        return pl.when(value == 0).then(None).otherwise(value)

    def or_zero(name: str) -> pl.Expr:  # `value or 0.0`
        value = col(name, pl.Float64())
        return pl.when(value.is_null() | (value == 0)).then(0.0).otherwise(value)

    given = col("status", pl.String()).fill_null("").str.to_lowercase()
    exit_time = col("exit_time", pl.Datetime("us", "UTC"))
    status = (
        pl.when(given != "")
        .then(given)
        .when(exit_time.is_not_null())
        .then(pl.lit("closed"))
        .otherwise(pl.lit("open"))
    )
    closed = status == "closed"
    notes = col("notes", pl.String())
    out = table.select(
        pl.lit(account_id, dtype=pl.String()).alias("account_id"),
        pl.col("broker_trade_id"),
        status.alias("status"),
        pl.col("symbol"),
        pl.col("side"),
        pl.col("quantity"),
        pl.col("entry_price"),
        pl.col("entry_time"),
        pl.when(closed).then(col("exit_price", pl.Float64())).alias("exit_price"),
        pl.when(closed).then(exit_time).alias("exit_time"),
        pl.when(closed).then(col("pnl", pl.Float64())).alias("pnl"),
        or_zero("commission").alias("commission"),
        or_zero("swap").alias("swap"),
        or_none("stop_loss").alias("stop_loss"),
        or_none("take_profit").alias("take_profit"),
        pl.when(notes != "").then(notes).alias("notes"),
        pl.col(_ROW).cast(pl.Int64).alias("row"),
    )
    if not pnl_is_net and out.height:
        # round(pnl + commission + swap, 10) as the model path computes it: Python's
        # correctly rounded round(), which polars' round does not promise.
        gross = out.select("pnl", "commission", "swap").rows()
        net = [None if p is None else round(p + c + s, 10) for p, c, s in gross]
        out = out.with_columns(pl.Series("pnl", net, dtype=pl.Float64))
    return out.cast(TRADE_SCHEMA)  # type: ignore[arg-type]


_TRADE_FIELDS_SET = frozenset(
    ("account_id", "broker_trade_id", "status", "symbol", "side", "quantity", "entry_price",
     "entry_time", "exit_price", "exit_time", "pnl", "commission", "swap", "stop_loss",
     "take_profit", "notes")
)  # fmt: skip


class _Builder:
    """A row :func:`_clean` proved valid → the :class:`TradeEvent` the model would build
    from it (the values :func:`_trade` computes, in UTC with ``datetime.UTC``), without
    running the validation again (``model_construct``)."""

    def __init__(self, names: list[str], has: set[str], pnl_is_net: bool, account_id: str):
        self._at = {name: (names.index(name) if name in has else None) for name in FIELDS}
        self._pnl_is_net = pnl_is_net
        self._account_id = account_id

    def __call__(self, values: tuple[Any, ...]) -> TradeEvent:
        at = self._at

        def get(name: str) -> Any:
            index = at[name]
            return None if index is None else values[index]

        exit_time = get("exit_time")
        given = str(get("status") or "").lower()
        status: Any = given if given else ("closed" if exit_time is not None else "open")
        commission = get("commission") or 0.0
        swap = get("swap") or 0.0
        open_trade = status == "open"
        pnl = None
        if not open_trade:
            pnl = get("pnl")
            if not self._pnl_is_net:
                pnl = round(pnl + commission + swap, 10)
            exit_time = exit_time.replace(tzinfo=UTC)
        return TradeEvent.model_construct(
            set(_TRADE_FIELDS_SET),
            account_id=self._account_id,
            broker_trade_id=get("broker_trade_id"),
            status=status,
            symbol=get("symbol"),
            side=get("side"),
            quantity=get("quantity"),
            entry_price=get("entry_price"),
            entry_time=get("entry_time").replace(tzinfo=UTC),
            exit_price=None if open_trade else get("exit_price"),
            exit_time=None if open_trade else exit_time,
            pnl=pnl,
            commission=commission,
            swap=swap,
            stop_loss=get("stop_loss") or None,
            take_profit=get("take_profit") or None,
            notes=get("notes") or None,
        )


def _account_ok(account_id: str) -> bool:
    """Whether the contract takes ``account_id`` (checked once per file, by the model)."""
    try:
        TradeEvent.model_validate(
            {
                "account_id": account_id,
                "broker_trade_id": "x",
                "status": "open",
                "symbol": "x",
                "side": "long",
                "quantity": 1.0,
                "entry_price": 1.0,
                "entry_time": datetime(2000, 1, 1, tzinfo=UTC),
            }
        )
    except ValidationError:
        return False
    return True


def _clean(table: pl.DataFrame, has: set[str], pnl_is_net: bool, ctx: ParseContext) -> pl.Series:
    """Per row: whether the contract model would take the row as :func:`_trade` builds it,
    decided column-wise (lengths, positive finite prices and sizes, the status rules,
    exit not before entry). False only sends a row through the model's own validation."""
    if not _account_ok(ctx.account_id):
        return pl.Series("ok", [False] * table.height, dtype=pl.Boolean)

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in has else pl.lit(None, dtype=dtype)

    def positive(name: str) -> pl.Expr:
        value = col(name, pl.Float64())
        return value.is_not_null() & value.is_finite() & (value > 0)

    def optional_price(name: str) -> pl.Expr:  # `value or None`: 0 becomes None
        value = col(name, pl.Float64())
        return value.is_null() | (value == 0) | (value.is_finite() & (value > 0))

    def money(name: str) -> pl.Expr:  # `value or 0.0`
        value = col(name, pl.Float64())
        return value.is_null() | value.is_finite()

    exit_time = col("exit_time", pl.Datetime("us", "UTC"))
    given = col("status", pl.String()).fill_null("").str.to_lowercase()
    status = (
        pl.when(given == "open")
        .then(pl.lit("open"))
        .when(given == "closed")
        .then(pl.lit("closed"))
        .when(given == "")
        .then(pl.when(exit_time.is_not_null()).then(pl.lit("closed")).otherwise(pl.lit("open")))
        .otherwise(pl.lit(None, dtype=pl.String()))
    )
    commission = col("commission", pl.Float64()).fill_null(0.0)
    swap = col("swap", pl.Float64()).fill_null(0.0)
    pnl = col("pnl", pl.Float64())
    net = pnl if pnl_is_net else pnl + commission + swap
    closed_ok = (
        positive("exit_price")
        & exit_time.is_not_null()
        & pnl.is_not_null()
        & pnl.is_finite()
        & net.is_finite()
        & (exit_time >= pl.col("entry_time"))
    )
    ids = pl.col("broker_trade_id").str.len_chars()
    symbols = pl.col("symbol").str.len_chars()
    ok = (
        ids.is_between(1, 128)
        & symbols.is_between(1, 64)
        & pl.col("side").is_in(["long", "short"])
        & positive("quantity")
        & positive("entry_price")
        & pl.col("entry_time").is_not_null()
        & money("commission")
        & money("swap")
        & optional_price("stop_loss")
        & optional_price("take_profit")
        & status.is_not_null()
        & ((status == "open") | closed_ok)
    )
    return table.select(ok.fill_null(False).alias("ok"))["ok"]


def _trade(
    record: dict[str, Any],
    has: set[str],
    pnl_is_net: bool,
    ctx: ParseContext,
) -> TradeEvent:
    given = str(record.get("status") or "").lower() if "status" in has else ""
    exit_time = record.get("exit_time")
    status: Literal["open", "closed"]
    if given in ("open", "closed"):
        status = "open" if given == "open" else "closed"
    elif given:
        raise RowProblem("status", f"{given!r} is not open or closed")
    else:
        status = "closed" if exit_time is not None else "open"
    pnl = record.get("pnl")
    commission = record.get("commission") or 0.0
    swap = record.get("swap") or 0.0
    if status == "closed" and pnl is not None and not pnl_is_net:
        pnl = round(pnl + commission + swap, 10)
    open_trade = status == "open"
    return TradeEvent(
        account_id=ctx.account_id,
        broker_trade_id=record["broker_trade_id"],
        status=status,
        symbol=record["symbol"],
        side=record["side"],
        quantity=record["quantity"],
        entry_price=record["entry_price"],
        entry_time=record["entry_time"],
        exit_price=None if open_trade else record.get("exit_price"),
        exit_time=None if open_trade else exit_time,
        pnl=None if open_trade else pnl,
        commission=commission,
        swap=swap,
        stop_loss=record.get("stop_loss") or None,
        take_profit=record.get("take_profit") or None,
        notes=record.get("notes") or None,
    )
