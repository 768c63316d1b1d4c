"""NinjaTrader 8 Executions / Trades grid CSV → closed trades (pure).

- The grid is recognised by its header: Executions (one row per execution) or Trades
  (one row per round trip). The header's language picks the words (``Buy``/``Kaufen``),
  the decimal mark and the date layout; a ``;``-separated file is read as such. English
  headers come with month-first (en-US) or day-first (en-GB) dates: a day over 12
  anywhere in the file decides, and month-first is assumed when none tells.
- Executions: paired first in first out per account and instrument
  (:mod:`connectors.statements.roundtrips`): one closed trade per exit execution, id =
  its execution ``ID``, P&L = price move × quantity × the contract's point value
  (:mod:`connectors.statements.contracts`) + commissions, each execution's
  ``Commission`` counted once (split by quantity between the trades it is part of).
  An exit whose entry is not in the file is reported, as is an instrument without a
  known point value; entries still open at the end are not imported.
- Trades: one closed trade per row, ``pnl`` = ``Profit`` − ``Commission`` (``Profit`` is
  before commission, ``Cum. net profit`` after it); the fee columns are the
  commission's breakdown and are not added again. NinjaTrader numbers the rows anew
  in every export, so the id is built from account, instrument, entry and exit times
  and quantity. Import one grid or the other for a day, not both: they do not share
  ids.
- Times carry no zone: they are in NinjaTrader's display zone, taken as US Central
  (``America/Chicago``) unless ``--timezone`` says otherwise.
- A file with several accounts loads the rows of the one equal to ``--account``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from connectors.ninjatrader.wire import NinjaExecution, NinjaTrade
from connectors.statements.accounts import choose_account
from connectors.statements.contracts import point_value
from connectors.statements.headers import Columns, find_columns
from connectors.statements.model import ParseContext, ParsedStatement, StatementMeta
from connectors.statements.roundtrips import Fill, Side, closed_trade, pair_fifo
from connectors.statements.tables import (
    Line,
    TableError,
    errors_by_row,
    invalid_trade,
    merge_aliases,
    parse_wall_time,
    plain,
    read_amount,
    read_lines,
    read_optional_amount,
    read_some_or_report,
)
from connectors.statements.text import decode
from schemas.events import TradeEvent

CENTRAL = ZoneInfo("America/Chicago")

# NinjaTrader's header texts per language. English is the platform's own; the German
# texts are ours, written to show the mechanism, not checked against a German
# installation (add or correct a language: its headers, words and culture below).
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "instrument": ("Instrument",),
        "action": ("Action",),
        "quantity": ("Quantity", "Qty"),
        "price": ("Price",),
        "time": ("Time",),
        "execution_id": ("ID",),
        "entry_exit": ("E/X",),
        "commission": ("Commission",),
        "account": ("Account", "Account display name"),
        "trade_number": ("Trade number",),
        "market_position": ("Market pos.",),
        "entry_price": ("Entry price",),
        "exit_price": ("Exit price",),
        "entry_time": ("Entry time",),
        "exit_time": ("Exit time",),
        "profit": ("Profit",),
    },
    "de": {
        "instrument": ("Instrument",),
        "action": ("Aktion",),
        "quantity": ("Menge",),
        "price": ("Preis",),
        "time": ("Zeit",),
        "execution_id": ("ID",),
        "entry_exit": ("E/A",),
        "commission": ("Provision",),
        "account": ("Konto",),
        "trade_number": ("Trade-Nummer",),
        "market_position": ("Marktpos.",),
        "entry_price": ("Einstiegspreis",),
        "exit_price": ("Ausstiegspreis",),
        "entry_time": ("Einstiegszeit",),
        "exit_time": ("Ausstiegszeit",),
        "profit": ("Gewinn",),
    },
}
WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "buy": ("buy", "buy to cover"),
        "sell": ("sell", "sell short"),
        "entry": ("entry",),
        "exit": ("exit",),
        "long": ("long",),
        "short": ("short",),
    },
    "de": {
        "buy": ("kaufen",),
        "sell": ("verkaufen", "leerverkauf"),
        "entry": ("einstieg",),
        "exit": ("ausstieg",),
        "long": ("long",),
        "short": ("short",),
    },
}


@dataclass(frozen=True, slots=True)
class Culture:
    """How a language's export writes numbers and times."""

    decimal: str | None
    time_layouts: tuple[str, ...]


CULTURES: dict[str, Culture] = {
    "en": Culture(
        None,
        (
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y %H:%M:%S",
            "%m/%d/%Y %I:%M %p",
            "%m/%d/%Y %H:%M",
            "%Y-%m-%d %H:%M:%S",
        ),
    ),
    "de": Culture(",", ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")),
}
DAY_FIRST = Culture(
    None,
    (
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %I:%M:%S %p",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %I:%M %p",
        "%Y-%m-%d %H:%M:%S",
    ),
)
"""English headers with day/month/year dates (en-GB, en-AU, … cultures)."""
_SLASH_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/\d{4}")


def culture_of(language: str, times: Sequence[str]) -> Culture:
    """The culture of a file in ``language``: for English, day-first when a date's first
    number is over 12, month-first (en-US) when a second number is, or when no date
    tells (every day of the file is ≤ 12)."""
    if language != "en":
        return CULTURES[language]
    for text in times:
        match = _SLASH_DATE.match(text)
        if match is None:
            continue
        first, second = int(match[1]), int(match[2])
        if first > 12:
            return DAY_FIRST
        if second > 12:
            return CULTURES["en"]
    return CULTURES["en"]


EXECUTIONS = ("instrument", "action", "quantity", "price", "time", "execution_id", "entry_exit")
TRADES = (
    "instrument",
    "market_position",
    "quantity",
    "entry_price",
    "exit_price",
    "entry_time",
    "exit_time",
    "profit",
)
WANTED = (
    "trade_number",
    "market_position",
    "entry_price",
    "exit_price",
    "entry_time",
    "exit_time",
    "execution_id",
    "entry_exit",
    "instrument",
    "action",
    "quantity",
    "price",
    "time",
    "commission",
    "account",
    "profit",
)


@dataclass(frozen=True, slots=True)
class Grid:
    """Which grid a header row is, in which language, and where its columns are."""

    kind: Literal["executions", "trades"]
    language: str
    columns: Columns


def _delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def read_grid(cells: Sequence[str]) -> Grid | None:
    """The grid this header row opens, or ``None``."""
    best: Grid | None = None
    best_count = 0
    for language in HEADERS:
        aliases = merge_aliases(HEADERS, [language])
        # this grid's texts only: the shared table would also take e.g. "Name" or "Rate"
        columns = find_columns(cells, WANTED, aliases=aliases, languages=("-",))
        grids: tuple[tuple[Literal["executions", "trades"], tuple[str, ...]], ...] = (
            ("executions", EXECUTIONS),
            ("trades", TRADES),
        )
        for kind, needed in grids:
            if all(name in columns for name in needed) and len(columns.index) > best_count:
                best, best_count = Grid(kind, language, columns), len(columns.index)
    return best


def sniff(text: str) -> bool:
    """Whether the first line is an Executions or Trades grid header."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if not first:
        return False
    try:
        lines = read_lines(first, _delimiter(first))
    except TableError:
        return False
    return bool(lines) and read_grid(lines[0].cells) is not None


def _word(text: str, language: str, *meanings: str) -> str | None:
    lowered = text.strip().lower()
    for meaning in meanings:
        if lowered in WORDS[language][meaning]:
            return meaning
    return None


_PAREN_CURRENCY = re.compile(r"^\s*\(\s*([$€£¥])\s*(.*?)\s*\)\s*$")


def _number(text: str, column: str, culture: Culture, *, optional: bool = False) -> float:
    # en-US writes a negative amount as ($55.00): the same as $(55.00)
    paren = _PAREN_CURRENCY.match(text)
    if paren:
        text = f"{paren[1]}({paren[2]})"
    try:
        if optional:
            return read_optional_amount(text, decimal=culture.decimal)
        return read_amount(text, decimal=culture.decimal)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def _report(parsed: ParsedStatement, row: int, raw: str, exc: ValueError) -> None:
    column, _, reason = str(exc).partition(": ")
    parsed.error(row, column, reason, raw)


def parse_ninjatrader(data: bytes, ctx: ParseContext) -> ParsedStatement:
    """The grid's closed trades (module doc)."""
    parsed = ParsedStatement()
    text = decode(data)
    first = text.split("\n", 1)[0]
    lines = read_some_or_report(text, parsed, _delimiter(first))
    if lines is None:
        return parsed
    grid = read_grid(lines[0].cells)
    if grid is None:
        parsed.error(
            1,
            "header",
            "not a NinjaTrader Executions or Trades grid header "
            f"(found: {', '.join(cell.strip() for cell in lines[0].cells if cell.strip())})",
            lines[0].raw,
        )
        return parsed
    rows = lines[1:]
    parsed.rows_seen = len(rows)
    tz = ctx.timezone or CENTRAL
    accounts = [grid.columns.get(line.cells, "account") for line in rows]
    choice = choose_account(accounts, ctx.account_id)
    parsed.meta = StatementMeta(
        broker="NinjaTrader",
        account_number=", ".join(choice.accounts) or None,
        server_offset=None if ctx.timezone else "America/Chicago",
    )
    if choice.error is not None:
        parsed.error(None, "Account", choice.error)
        return parsed
    taken = [line for line in rows if choice.takes(grid.columns.get(line.cells, "account"))]
    parsed.skipped = len(rows) - len(taken)
    if grid.kind == "executions":
        _executions(parsed, taken, grid, ctx, tz)
    else:
        _trades(parsed, taken, grid, ctx, tz)
    return errors_by_row(parsed)


def _execution(line: Line, columns: Columns) -> NinjaExecution:
    def get(name: str) -> str:
        return columns.get(line.cells, name)

    return NinjaExecution(
        row=line.number,
        raw=line.raw,
        instrument=get("instrument"),
        action=get("action"),
        quantity=get("quantity"),
        price=get("price"),
        time=get("time"),
        execution_id=get("execution_id"),
        entry_exit=get("entry_exit"),
        commission=get("commission"),
        account=get("account"),
    )


def _fill(execution: NinjaExecution, language: str, culture: Culture, tz: tzinfo) -> Fill:
    action = _word(execution.action, language, "buy", "sell")
    if action is None:
        raise ValueError(f"Action: {execution.action!r} is neither buy nor sell")
    side: Side = "buy" if action == "buy" else "sell"
    quantity = _number(execution.quantity, "Quantity", culture)
    if quantity <= 0:
        raise ValueError(f"Quantity: {execution.quantity!r} is not a positive quantity")
    price = _number(execution.price, "Price", culture)
    if price <= 0:
        raise ValueError(f"Price: {execution.price!r} is not a positive price")
    ts = _time(execution.time, "Time", culture, tz)
    commission = -abs(_number(execution.commission, "Commission", culture, optional=True))
    if not execution.execution_id:
        raise ValueError("ID: the execution has no id")
    flag = _word(execution.entry_exit, language, "entry", "exit")
    return Fill(
        key=f"{execution.account}|{execution.instrument}",
        symbol=execution.instrument,
        side=side,
        quantity=quantity,
        price=price,
        ts=ts,
        fill_id=execution.execution_id,
        commission=commission,
        row=execution.row,
        closes=None if flag is None else flag == "exit",
    )


def _time(text: str, column: str, culture: Culture, tz: tzinfo) -> datetime:
    try:
        return parse_wall_time(text, culture.time_layouts, tz)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def _executions(
    parsed: ParsedStatement, rows: list[Line], grid: Grid, ctx: ParseContext, tz: tzinfo
) -> None:
    culture = culture_of(grid.language, [grid.columns.get(r.cells, "time") for r in rows])
    fills: list[Fill] = []
    for line in rows:
        execution = _execution(line, grid.columns)
        try:
            fills.append(_fill(execution, grid.language, culture, tz))
        except ValueError as exc:
            _report(parsed, line.number, line.raw, exc)
    pairing = pair_fifo(fills)
    raws = {line.number: line.raw for line in rows}
    for trip in pairing.trips:
        closing = trip.closing
        try:
            multiplier = point_value(closing.symbol)
        except KeyError as exc:
            parsed.error(
                closing.row,
                "Instrument",
                f"no point value for {closing.symbol!r} (root {exc.args[0]}); add it to "
                'connectors/instruments.json (kind "future")',
                raws.get(closing.row or 0, ""),
            )
            continue
        pnl = trip.gross(multiplier) + trip.commission
        try:
            event = closed_trade(trip, account_id=ctx.account_id, trade_id=closing.fill_id, pnl=pnl)
        except ValueError as exc:
            parsed.error(closing.row, "row", invalid_trade(exc))
            continue
        parsed.add_trade(event, closing.row)
    for fill, quantity in pairing.unmatched:
        parsed.error(
            fill.row,
            "E/X",
            f"exit of {quantity:g} {fill.symbol} whose entry is not in the file",
            raws.get(fill.row or 0, ""),
        )
    parsed.skipped += len(pairing.still_open)


def _trade_row(line: Line, columns: Columns) -> NinjaTrade:
    def get(name: str) -> str:
        return columns.get(line.cells, name)

    return NinjaTrade(
        row=line.number,
        raw=line.raw,
        instrument=get("instrument"),
        account=get("account"),
        market_position=get("market_position"),
        quantity=get("quantity"),
        entry_price=get("entry_price"),
        exit_price=get("exit_price"),
        entry_time=get("entry_time"),
        exit_time=get("exit_time"),
        profit=get("profit"),
        commission=get("commission"),
    )


def _closed(
    row: NinjaTrade, language: str, culture: Culture, ctx: ParseContext, tz: tzinfo
) -> TradeEvent:
    position = _word(row.market_position, language, "long", "short")
    if position is None:
        raise ValueError(f"Market pos.: {row.market_position!r} is neither long nor short")
    quantity = _number(row.quantity, "Qty", culture)
    entry_price = _number(row.entry_price, "Entry price", culture)
    exit_price = _number(row.exit_price, "Exit price", culture)
    entry_time = _time(row.entry_time, "Entry time", culture, tz)
    exit_time = _time(row.exit_time, "Exit time", culture, tz)
    profit = _number(row.profit, "Profit", culture)
    commission = -abs(_number(row.commission, "Commission", culture, optional=True))
    account = row.account or "NT"
    trade_id = (
        f"{account}:{row.instrument}:{entry_time:%Y%m%dT%H%M%SZ}:"
        f"{exit_time:%Y%m%dT%H%M%SZ}:{plain(quantity)}"
    )
    try:
        return TradeEvent(
            account_id=ctx.account_id,
            broker_trade_id=trade_id,
            status="closed",
            symbol=row.instrument,
            side="long" if position == "long" else "short",
            quantity=quantity,
            entry_price=entry_price,
            entry_time=entry_time,
            exit_price=exit_price,
            exit_time=exit_time,
            pnl=round(profit + commission, 2),
            commission=round(commission, 2),
        )
    except ValueError as exc:
        raise ValueError(f"row: {invalid_trade(exc)}") from None


def _trades(
    parsed: ParsedStatement, rows: list[Line], grid: Grid, ctx: ParseContext, tz: tzinfo
) -> None:
    times = [grid.columns.get(r.cells, name) for r in rows for name in ("entry_time", "exit_time")]
    culture = culture_of(grid.language, times)
    seen: dict[str, int] = {}
    for line in rows:
        try:
            event = _closed(_trade_row(line, grid.columns), grid.language, culture, ctx, tz)
        except ValueError as exc:
            _report(parsed, line.number, line.raw, exc)
            continue
        seen[event.broker_trade_id] = seen.get(event.broker_trade_id, 0) + 1
        if seen[event.broker_trade_id] > 1:
            event = event.model_copy(
                update={"broker_trade_id": f"{event.broker_trade_id}#{seen[event.broker_trade_id]}"}
            )
        parsed.add_trade(event, line.number)
