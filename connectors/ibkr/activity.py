"""IBKR Activity Statement CSV → closed trades and cash movements (pure).

- Each line is ``Section,Kind,...``; a ``Header`` line names the columns of the
  section's lines that follow (a section repeats it per asset class), ``SubTotal`` and
  ``Total`` lines are sums and are not read; the ``Total`` line that
  ``Deposits & Withdrawals`` writes as data is skipped too.
- Amounts must be in the account's base currency (``Account Information``): a line in
  another currency is reported (the CSV carries no rate on the line; the Flex Query's
  ``fxRateToBase`` converts).
- Times are US Eastern (``America/New_York``, with its daylight-saving dates) unless
  ``--timezone`` says otherwise; deposits and withdrawals carry a settle date only,
  taken as midnight in the same zone.
- Cash sections: ``Deposits & Withdrawals`` lines are deposits and withdrawals;
  ``Fees``, ``Interest``, ``Dividends``, ``Withholding Tax`` lines balance adjustments.
  A ``Trades`` header without ``Realized P/L`` is IBKR's for currency conversions: its
  ``Forex`` lines are skipped (counted), any other line under it is reported.
- ``Trades`` ``Order`` lines are the fills. The ``Trade`` lines under an order are that
  order's executions again (their sum is the order): they are skipped, so an order is
  never counted twice; a ``Trade`` line with no ``Order`` above it is a fill.
  ``ClosedLot`` lines repeat the opening lots an order closed; they are read only for
  an order whose opening is not in the file (below).
- Opening and closing orders are paired first in first out per account and symbol
  (:mod:`connectors.statements.roundtrips`): one closed trade per closing order, its
  ``pnl`` IBKR's ``Realized P/L`` (which is net of both orders' commissions), its
  ``commission`` the closing order's ``Comm/Fee`` plus the opening orders' share, each
  counted once (so no contract multiplier is needed: IBKR did the sums). A closing
  order whose opening predates the file is built from its ``ClosedLot`` lines, and
  reported when it has none; orders still open at the end are not imported.
- The trade id is built from what identifies the closing order in every statement
  that shows it (account number, symbol, time, quantity, price), so a later statement
  that overlaps this one, or a consolidated statement, gives the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from connectors.ibkr.wire import ActivityCash, ActivityTrade
from connectors.statements.accounts import choose_account
from connectors.statements.headers import Columns, find_columns
from connectors.statements.model import (
    CashKind,
    CashMovement,
    ParseContext,
    ParsedStatement,
    StatementMeta,
)
from connectors.statements.roundtrips import Fill, Lot, Side, TripWording, add_closed_trips
from connectors.statements.tables import (
    Line,
    errors_by_row,
    merge_aliases,
    parse_wall_time,
    plain,
    read_amount,
    read_optional_amount,
    read_or_report,
)
from connectors.statements.text import decode

EASTERN = ZoneInfo("America/New_York")
TIME_LAYOUTS = ("%Y-%m-%d, %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y%m%d;%H%M%S", "%Y-%m-%d")
DATE_LAYOUTS = ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y")

# IBKR's own header texts, per language (English complete; add a language here).
TRADES_HEADERS = {
    "en": {
        "discriminator": ("DataDiscriminator",),
        "asset_category": ("Asset Category", "Asset Class"),
        "currency": ("Currency",),
        "account": ("Account",),
        "symbol": ("Symbol",),
        "time": ("Date/Time",),
        "size": ("Quantity",),
        "price": ("T. Price", "Trade Price"),
        "commission": ("Comm/Fee", "Comm in USD", "Commission"),
        "profit": ("Realized P/L",),
        "code": ("Code",),
    },
}
CASH_HEADERS = {
    "en": {
        "currency": ("Currency",),
        "account": ("Account",),
        "settle_date": ("Settle Date", "Date"),
        "description": ("Description",),
        "amount": ("Amount",),
    },
}
TRADES_WANTED = (
    "discriminator",
    "asset_category",
    "currency",
    "account",
    "symbol",
    "time",
    "size",
    "price",
    "commission",
    "profit",
    "code",
)
TRADES_REQUIRED = ("symbol", "time", "size", "price", "profit")
CASH_WANTED = ("currency", "account", "settle_date", "description", "amount")
CASH_SECTIONS = (
    "Deposits & Withdrawals",
    "Fees",
    "Interest",
    "Dividends",
    "Withholding Tax",
    "Payment In Lieu Of Dividends",
)
"""Sections whose lines change the cash balance: the first are deposits and withdrawals,
the others balance adjustments."""
WORDING = TripWording(
    trade="Trades",
    lot="Trades/ClosedLot",
    no_opening=(
        "closes {quantity:g} {symbol} opened before this statement begins; its opening is "
        "not in the file and no ClosedLot lines say it, so the round trip cannot be built"
    ),
)


def sniff(text: str) -> bool:
    """Whether the text opens like an Activity Statement (``Statement,Header`` or a
    ``Trades,Header`` line)."""
    for line in text.splitlines()[:400]:
        if line.startswith(("Statement,Header,", "Trades,Header,", "\ufeffStatement,Header,")):
            return True
    return False


@dataclass(slots=True)
class _Read:
    trades: list[ActivityTrade] = field(default_factory=list)
    cash: list[ActivityCash] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)


def _columns(
    line: Line, wanted: tuple[str, ...], table: dict[str, dict[str, tuple[str, ...]]]
) -> Columns:
    return find_columns(line.cells[2:], wanted, aliases=merge_aliases(table))


def _header(line: Line, section: str, parsed: ParsedStatement) -> Columns | None:
    """The columns of a ``Trades`` or cash section header, or ``None`` (an error is
    recorded) when it lacks a column the section needs. A ``Trades`` header without
    ``Realized P/L`` is kept: IBKR writes one for currency conversions (below)."""
    trades = section == "Trades"
    columns = _columns(
        line, *((TRADES_WANTED, TRADES_HEADERS) if trades else (CASH_WANTED, CASH_HEADERS))
    )
    needed = [n for n in TRADES_REQUIRED if n != "profit"] if trades else ["settle_date", "amount"]
    missing = [name for name in needed if name not in columns]
    if missing:
        parsed.error(
            line.number, f"{section} header", f"missing column(s) {', '.join(missing)}", line.raw
        )
        return None
    return columns


def _read(lines: list[Line], parsed: ParsedStatement) -> _Read:
    """The file's lines → wire records, by section (errors for unreadable headers)."""
    read = _Read()
    headers: dict[str, Columns] = {}
    header_line: dict[str, int] = {}
    for line in lines:
        section = line.cells[0].strip().lstrip("\ufeff")
        kind = line.cells[1].strip() if len(line.cells) > 1 else ""
        if kind == "Header":
            if section == "Trades" or section in CASH_SECTIONS:
                header_line[section] = line.number
                columns = _header(line, section, parsed)
                if columns is None:
                    headers.pop(section, None)
                else:
                    headers[section] = columns
            continue
        if kind != "Data":
            continue  # SubTotal, Total, Notes
        cells = line.cells[2:]
        if section in ("Statement", "Account Information") and len(cells) >= 2:
            read.info[cells[0].strip()] = cells[1].strip()
            continue
        if section != "Trades" and section not in CASH_SECTIONS:
            continue  # sections AETHERIS does not read (NAV, positions, …)
        if cells and cells[0].strip().lower().startswith("total"):
            continue  # the section's totals, written as data
        parsed.rows_seen += 1
        columns_or_none = headers.get(section)
        if columns_or_none is None:
            reason = (
                f"its header (line {header_line[section]}) lacks required columns"
                if section in header_line
                else "data line before its header"
            )
            parsed.error(line.number, section, reason, line.raw)
            continue
        columns = columns_or_none
        if section == "Trades":
            if "profit" not in columns:
                if columns.get(cells, "asset_category").lower() == "forex":
                    parsed.skipped += 1  # a currency conversion, not a trade
                    continue
                parsed.error(
                    line.number,
                    "Trades",
                    f"its header (line {header_line[section]}) has no Realized P/L column",
                    line.raw,
                )
                continue
            read.trades.append(
                ActivityTrade(
                    row=line.number,
                    raw=line.raw,
                    discriminator=columns.get(cells, "discriminator", "Order"),
                    asset_category=columns.get(cells, "asset_category"),
                    currency=columns.get(cells, "currency"),
                    account=columns.get(cells, "account"),
                    symbol=columns.get(cells, "symbol"),
                    date_time=columns.get(cells, "time"),
                    quantity=columns.get(cells, "size"),
                    trade_price=columns.get(cells, "price"),
                    comm_fee=columns.get(cells, "commission"),
                    realized_pl=columns.get(cells, "profit"),
                    code=columns.get(cells, "code"),
                )
            )
        else:
            read.cash.append(
                ActivityCash(
                    row=line.number,
                    raw=line.raw,
                    section=section,
                    currency=columns.get(cells, "currency"),
                    account=columns.get(cells, "account"),
                    settle_date=columns.get(cells, "settle_date"),
                    description=columns.get(cells, "description"),
                    amount=columns.get(cells, "amount"),
                )
            )
    return read


@dataclass(slots=True)
class _Fills:
    """The order lines that are fills, the closed-lot lines under each (by the order's
    line number), and how many execution/lot lines are not fills."""

    orders: list[ActivityTrade] = field(default_factory=list)
    lots: dict[int, list[ActivityTrade]] = field(default_factory=dict)
    skipped: int = 0


def _fills(trades: list[ActivityTrade]) -> _Fills:
    found = _Fills()
    previous: ActivityTrade | None = None
    under_order = False
    for trade in trades:
        kind = trade.discriminator.strip() or "Order"
        if kind == "Order":
            found.orders.append(trade)
            under_order = True
        elif kind == "Trade":
            same_order = (
                under_order
                and previous is not None
                and (previous.account, previous.symbol) == (trade.account, trade.symbol)
            )
            if same_order:
                found.skipped += 1  # an execution of the order above: already counted
            else:
                found.orders.append(trade)
                under_order = False
        else:
            found.skipped += 1  # ClosedLot and other breakdowns
            owner = found.orders[-1] if found.orders else None
            if kind == "ClosedLot" and owner is not None and owner.symbol == trade.symbol:
                found.lots.setdefault(owner.row, []).append(trade)
        if kind != "ClosedLot":
            previous = trade
    return found


def _fill(trade: ActivityTrade, statement_account: str, tz: tzinfo) -> Fill:
    """One order line as a fill (``ValueError`` naming the column on bad text);
    ``statement_account`` is the account of a statement whose lines do not name one."""
    try:
        quantity = read_amount(trade.quantity)
    except ValueError as exc:
        raise ValueError(f"Quantity: {exc}") from None
    if quantity == 0:
        raise ValueError("Quantity: an order of 0")
    try:
        price = read_amount(trade.trade_price)
    except ValueError as exc:
        raise ValueError(f"T. Price: {exc}") from None
    if price <= 0:
        raise ValueError(f"T. Price: {trade.trade_price!r} is not a positive price")
    try:
        ts = parse_wall_time(trade.date_time, TIME_LAYOUTS, tz)
    except ValueError as exc:
        raise ValueError(f"Date/Time: {exc}") from None
    try:
        commission = read_optional_amount(trade.comm_fee)
    except ValueError as exc:
        raise ValueError(f"Comm/Fee: {exc}") from None
    try:
        realized = read_optional_amount(trade.realized_pl)
    except ValueError as exc:
        raise ValueError(f"Realized P/L: {exc}") from None
    codes = {code.strip().upper() for code in trade.code.split(";")}
    closes = True if "C" in codes and "O" not in codes else None
    if "O" in codes and "C" not in codes:
        closes = False
    side: Side = "buy" if quantity > 0 else "sell"
    return Fill(
        key=f"{trade.account}|{trade.symbol}",
        symbol=trade.symbol,
        side=side,
        quantity=abs(quantity),
        price=price,
        ts=ts,
        fill_id=_order_id(trade, trade.account or statement_account, ts, quantity, price),
        commission=commission,
        row=trade.row,
        realized=realized,
        closes=closes,
    )


def _order_id(
    trade: ActivityTrade, account: str, ts: datetime, quantity: float, price: float
) -> str:
    signed = plain(quantity) if quantity < 0 else f"+{plain(quantity)}"
    return f"{account}:{trade.symbol}:{ts:%Y%m%dT%H%M%SZ}:{signed}@{plain(price)}"


def parse_activity(data: bytes, ctx: ParseContext) -> ParsedStatement:
    """The Activity Statement's closed trades and deposits/withdrawals (module doc)."""
    parsed = ParsedStatement()
    tz = ctx.timezone or EASTERN
    lines = read_or_report(decode(data), parsed)
    if lines is None:
        return parsed
    read = _read(lines, parsed)
    parsed.meta = StatementMeta(
        broker=read.info.get("BrokerName", "Interactive Brokers"),
        account_number=read.info.get("Account"),
        account_name=read.info.get("Name"),
        currency=read.info.get("Base Currency"),
        server_offset=None if ctx.timezone else "America/New_York",
    )
    accounts = [t.account for t in read.trades] + [c.account for c in read.cash]
    choice = choose_account(accounts, ctx.account_id)
    if choice.error is not None:
        parsed.error(None, "Account", choice.error)
        return parsed

    # The id names the broker account: the same trade gets the same id from this
    # account's own statement and from a consolidated one.
    info_account = read.info.get("Account", "")
    statement_account = info_account if info_account and "," not in info_account else "IB"
    found = _fills(read.trades)
    parsed.skipped += found.skipped
    fills: list[Fill] = []
    base = (read.info.get("Base Currency") or "").strip().upper()
    for trade in found.orders:
        if not choice.takes(trade.account):
            parsed.skipped += 1
            continue
        if _foreign(trade.currency, base):
            parsed.error(
                trade.row, "Trades/Currency", _foreign_reason(trade.currency, base), trade.raw
            )
            continue
        try:
            fills.append(_fill(trade, statement_account, tz))
        except ValueError as exc:
            column, _, reason = str(exc).partition(": ")
            parsed.error(trade.row, f"Trades/{column}", reason, trade.raw)
    add_closed_trips(
        parsed,
        fills,
        found.lots,
        lambda lines: _lots(lines, tz),
        account_id=ctx.account_id,
        wording=WORDING,
        number_repeats=True,
    )

    for cash in read.cash:
        if not choice.takes(cash.account):
            parsed.skipped += 1
            continue
        if _foreign(cash.currency, base):
            reason = _foreign_reason(cash.currency, base)
            parsed.error(cash.row, f"{cash.section}/Currency", reason, cash.raw)
            continue
        _add_cash(parsed, cash, tz)
    return errors_by_row(parsed)


def _foreign(currency: str, base: str) -> bool:
    """Whether a line's amounts are in another currency than the account's."""
    code = currency.strip().upper()
    return bool(base and code and code != base)


def _foreign_reason(currency: str, base: str) -> str:
    return (
        f"amounts in {currency.strip()}, the account's currency is {base}, and the Activity "
        "Statement gives no exchange rate on the line; import the Flex Query "
        "(its fxRateToBase converts them)"
    )


def read_lots(
    lines: Iterable[tuple[int, str, str, str]], layouts: Sequence[str], tz: tzinfo
) -> list[Lot]:
    """Closed-lot lines as (row, quantity, cost per unit, opened) texts → lots; a
    ``ValueError`` names the line on bad text. IBKR's cost per unit has the opening
    commission in it."""
    lots: list[Lot] = []
    for row, quantity, price, opened in lines:
        try:
            lots.append(
                Lot(
                    quantity=abs(read_amount(quantity)),
                    price=read_amount(price),
                    opened=parse_wall_time(opened, layouts, tz),
                )
            )
        except ValueError as exc:
            raise ValueError(f"line {row}: {exc}") from None
    return lots


def _lots(lines: Sequence[ActivityTrade], tz: tzinfo) -> list[Lot]:
    """``ClosedLot`` lines: quantity, cost per unit and the date opened."""
    return read_lots(
        ((line.row, line.quantity, line.trade_price, line.date_time) for line in lines),
        TIME_LAYOUTS,
        tz,
    )


def _add_cash(parsed: ParsedStatement, cash: ActivityCash, tz: tzinfo) -> None:
    try:
        amount = read_amount(cash.amount)
    except ValueError as exc:
        parsed.error(cash.row, f"{cash.section}/Amount", str(exc), cash.raw)
        return
    try:
        ts = parse_wall_time(cash.settle_date, DATE_LAYOUTS, tz)
    except ValueError as exc:
        parsed.error(cash.row, f"{cash.section}/Date", str(exc), cash.raw)
        return
    kind: CashKind = "adjustment"
    if cash.section == "Deposits & Withdrawals":
        kind = "deposit" if amount >= 0 else "withdrawal"
    parsed.cash.append(
        CashMovement(
            ts=ts,
            amount=amount,
            kind=kind,
            broker_id=None,
            comment=cash.description,
            row=cash.row,
        )
    )
