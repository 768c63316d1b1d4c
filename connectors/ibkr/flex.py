"""IBKR Flex Query XML → closed trades and cash movements (pure).

- The file is read with expat and any ``<!DOCTYPE>`` or entity declaration is refused
  (IBKR never writes one; refusing them rules out entity-expansion bombs and external
  entities). Each element keeps the line it starts on, for row errors.
- ``Trade`` elements are executions (``levelOfDetail="EXECUTION"``); ``Order``,
  ``Lot`` and ``AssetSummary`` elements summarise or break them down and are skipped,
  so nothing is counted twice. A ``Trade`` with another ``levelOfDetail`` (``ORDER``,
  ``CLOSED_LOT``) is skipped for the same reason.
- Money is converted to the account's currency with each line's ``fxRateToBase``
  (``fifoPnlRealized``, ``ibCommission``, cash ``amount``; prices stay in the
  instrument's currency).
- ``dateTime`` (``20260306;093100``) is US Eastern unless ``--timezone`` says otherwise;
  a date without a time is midnight.
- Executions pair first in first out per account and symbol: one closed trade per
  closing execution (a scale-out gives one per exit), id = its ``tradeID`` (stable in
  every Flex report), ``pnl`` = its ``fifoPnlRealized`` (net of the commissions of the
  lots it closes and its own), ``commission`` = its ``ibCommission`` plus the opening
  executions' share, each counted once. A closing execution (``openCloseIndicator``
  ``C``) whose opening is not in the file is reported.
- ``CashTransaction`` of type ``Deposits/Withdrawals`` are deposits or withdrawals;
  the other types (dividends, interest, fees) are balance adjustments; a
  ``levelOfDetail="SUMMARY"`` line repeats the detail lines and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from xml.parsers import expat

from connectors.ibkr.activity import EASTERN, read_lots
from connectors.ibkr.wire import FlexCash, FlexLot, FlexTrade
from connectors.statements.accounts import choose_account
from connectors.statements.model import (
    CashKind,
    CashMovement,
    ParseContext,
    ParsedStatement,
    StatementMeta,
)
from connectors.statements.roundtrips import Fill, Lot, Side, TripWording, add_closed_trips
from connectors.statements.tables import (
    errors_by_row,
    parse_wall_time,
    read_amount,
    read_optional_amount,
)

TIME_LAYOUTS = ("%Y%m%d;%H%M%S", "%Y%m%d %H%M%S", "%Y-%m-%d;%H:%M:%S", "%Y%m%d", "%Y-%m-%d")
MAX_BYTES = 256 * 1024 * 1024
"""A Flex report larger than this is refused (a year of busy trading is a few MB)."""
WORDING = TripWording(
    trade="Trade",
    lot="Lot",
    no_opening=(
        "closes {quantity:g} {symbol} opened before this report begins; its opening is "
        "not in the file and no Lot element says it, so the round trip cannot be built"
    ),
)


class FlexError(ValueError):
    """A file that is not a readable Flex Query report."""


@dataclass(frozen=True, slots=True)
class Element:
    """A start tag: its name, attributes, and the line it starts on."""

    tag: str
    attributes: dict[str, str]
    line: int


def _refuse(*_args: object) -> int:
    raise FlexError("the file declares a DOCTYPE or entities; a Flex report never does")


def read_elements(data: bytes) -> list[Element]:
    """Every start tag of the document, in order (:class:`FlexError` if it is not XML)."""
    if len(data) > MAX_BYTES:
        raise FlexError(f"the file is {len(data)} bytes, more than a Flex report can be")
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    elements: list[Element] = []

    def start(tag: str, attributes: dict[str, str]) -> None:
        elements.append(Element(tag, attributes, parser.CurrentLineNumber))

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise FlexError(f"not well-formed XML: {exc}") from None
    return elements


def sniff(text: str) -> bool:
    """Whether the text is a Flex Query report."""
    return "<FlexQueryResponse" in text or "<FlexStatements" in text


def _raw(element: Element) -> str:
    attributes = " ".join(f'{key}="{value}"' for key, value in element.attributes.items())
    return f"<{element.tag} {attributes} />"


def _trade(element: Element) -> FlexTrade:
    get = element.attributes.get
    return FlexTrade(
        row=element.line,
        raw=_raw(element),
        accountId=get("accountId", ""),
        tradeID=get("tradeID", ""),
        ibExecID=get("ibExecID", ""),
        ibOrderID=get("ibOrderID", ""),
        symbol=get("symbol", ""),
        assetCategory=get("assetCategory", ""),
        currency=get("currency", ""),
        dateTime=get("dateTime", "") or get("tradeDate", ""),
        buySell=get("buySell", ""),
        openCloseIndicator=get("openCloseIndicator", ""),
        quantity=get("quantity", ""),
        tradePrice=get("tradePrice", ""),
        ibCommission=get("ibCommission", ""),
        fifoPnlRealized=get("fifoPnlRealized", ""),
        multiplier=get("multiplier", ""),
        levelOfDetail=get("levelOfDetail", "EXECUTION"),
        fxRateToBase=get("fxRateToBase", ""),
    )


def _cash(element: Element) -> FlexCash:
    get = element.attributes.get
    return FlexCash(
        row=element.line,
        raw=_raw(element),
        accountId=get("accountId", ""),
        transactionID=get("transactionID", ""),
        type=get("type", ""),
        dateTime=get("dateTime", "") or get("reportDate", ""),
        amount=get("amount", ""),
        currency=get("currency", ""),
        description=get("description", ""),
        fxRateToBase=get("fxRateToBase", ""),
    )


def _detail(element: Element) -> str:
    return element.attributes.get("levelOfDetail", "").strip().upper()


def _is_execution(element: Element) -> bool:
    return _detail(element) in ("", "EXECUTION")


def _lot(element: Element) -> FlexLot:
    get = element.attributes.get
    return FlexLot(
        row=element.line,
        raw=_raw(element),
        accountId=get("accountId", ""),
        symbol=get("symbol", ""),
        quantity=get("quantity", ""),
        tradePrice=get("tradePrice", ""),
        openDateTime=get("openDateTime", ""),
    )


@dataclass(slots=True)
class _Read:
    trades: list[FlexTrade] = field(default_factory=list)
    lots: dict[int, list[FlexLot]] = field(default_factory=dict)
    cash: list[FlexCash] = field(default_factory=list)
    statements: list[dict[str, str]] = field(default_factory=list)
    currency: str | None = None
    skipped: int = 0


def _read(elements: list[Element]) -> _Read:
    read = _Read()
    for element in elements:
        if element.tag == "FlexStatement":
            read.statements.append(element.attributes)
        elif element.tag == "AccountInformation":
            read.currency = element.attributes.get("currency") or read.currency
        elif element.tag == "Trade" and _is_execution(element):
            read.trades.append(_trade(element))
        elif element.tag in ("Lot", "Trade") and _detail(element) == "CLOSED_LOT":
            read.skipped += 1
            lot = _lot(element)
            last = read.trades[-1] if read.trades else None
            if last is not None and (last.accountId, last.symbol) == (lot.accountId, lot.symbol):
                read.lots.setdefault(last.row, []).append(lot)
        elif element.tag in ("Order", "Lot", "Trade"):
            read.skipped += 1
        elif element.tag == "CashTransaction":
            if _detail(element) in ("", "DETAIL"):
                read.cash.append(_cash(element))
            else:
                read.skipped += 1  # a SUMMARY line repeats the detail lines above it
    return read


def _fill(trade: FlexTrade, tz: tzinfo) -> Fill:
    """One execution as a fill (``ValueError`` naming the attribute on bad text)."""
    values: dict[str, float] = {}
    for name, text in (
        ("quantity", trade.quantity),
        ("tradePrice", trade.tradePrice),
    ):
        try:
            values[name] = read_amount(text)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    for name, text in (("ibCommission", trade.ibCommission),):
        try:
            values[name] = read_optional_amount(text)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if not trade.fifoPnlRealized.strip():
        raise ValueError("fifoPnlRealized: missing (add it to the Flex Query's Trades fields)")
    try:
        realized = read_amount(trade.fifoPnlRealized)
    except ValueError as exc:
        raise ValueError(f"fifoPnlRealized: {exc}") from None
    quantity, price = values["quantity"], values["tradePrice"]
    if quantity == 0:
        raise ValueError("quantity: an execution of 0")
    if price <= 0:
        raise ValueError(f"tradePrice: {trade.tradePrice!r} is not a positive price")
    side_text = trade.buySell.strip().upper()
    side: Side
    if side_text.startswith("BUY"):
        side = "buy"
    elif side_text.startswith("SELL"):
        side = "sell"
    else:
        side = "buy" if quantity > 0 else "sell"
    try:
        ts = parse_wall_time(trade.dateTime, TIME_LAYOUTS, tz)
    except ValueError as exc:
        raise ValueError(f"dateTime: {exc}") from None
    flags = {flag.strip().upper() for flag in trade.openCloseIndicator.split(";")}
    closes: bool | None = None
    if flags == {"C"}:
        closes = True
    elif flags == {"O"}:
        closes = False
    trade_id = trade.tradeID.strip() or trade.ibExecID.strip()
    if not trade_id:
        raise ValueError("tradeID: missing (and no ibExecID either)")
    rate = _rate(trade.fxRateToBase)
    return Fill(
        key=f"{trade.accountId}|{trade.symbol}",
        symbol=trade.symbol,
        side=side,
        quantity=abs(quantity),
        price=price,
        ts=ts,
        fill_id=trade_id,
        commission=round(values["ibCommission"] * rate, 6),
        row=trade.row,
        realized=round(realized * rate, 6),
        closes=closes,
    )


def _rate(text: str) -> float:
    """``fxRateToBase``: the line's currency → the account's (1 when absent)."""
    if not text.strip():
        return 1.0
    try:
        rate = read_amount(text)
    except ValueError as exc:
        raise ValueError(f"fxRateToBase: {exc}") from None
    if rate <= 0:
        raise ValueError(f"fxRateToBase: {text!r} is not a positive rate")
    return rate


def parse_flex(data: bytes, ctx: ParseContext) -> ParsedStatement:
    """The Flex report's closed trades and cash transactions (module doc)."""
    parsed = ParsedStatement()
    try:
        read = _read(read_elements(data))
    except FlexError as exc:
        parsed.error(None, "file", str(exc))
        return parsed
    if not read.statements:
        parsed.error(None, "file", "no FlexStatement element: not a Flex Query report")
        return parsed
    tz = ctx.timezone or EASTERN
    first, last = read.statements[0], read.statements[-1]
    numbers = [s.get("accountId", "") for s in read.statements]
    parsed.meta = StatementMeta(
        broker="Interactive Brokers",
        account_number=", ".join(n for n in numbers if n) or None,
        currency=read.currency,
        server_offset=None if ctx.timezone else "America/New_York",
        period_start=_date(first.get("fromDate", ""), tz),
        period_end=_date(last.get("toDate", ""), tz),
    )
    parsed.skipped = read.skipped
    parsed.rows_seen = read.skipped
    choice = choose_account(
        [t.accountId for t in read.trades] + [c.accountId for c in read.cash] + numbers,
        ctx.account_id,
    )
    if choice.error is not None:
        parsed.error(None, "accountId", choice.error)
        return parsed
    fills: list[Fill] = []
    for trade in read.trades:
        parsed.rows_seen += 1
        if not choice.takes(trade.accountId):
            parsed.skipped += 1
            continue
        try:
            fills.append(_fill(trade, tz))
        except ValueError as exc:
            column, _, reason = str(exc).partition(": ")
            parsed.error(trade.row, f"Trade/{column}", reason, trade.raw)
    add_closed_trips(
        parsed,
        fills,
        read.lots,
        lambda elements: _lots(elements, tz),
        account_id=ctx.account_id,
        wording=WORDING,
    )
    for cash in read.cash:
        parsed.rows_seen += 1
        if not choice.takes(cash.accountId):
            parsed.skipped += 1
            continue
        _add_cash(parsed, cash, tz)
    return errors_by_row(parsed)


def _date(text: str, tz: tzinfo) -> datetime | None:
    try:
        return parse_wall_time(text, ("%Y%m%d", "%Y-%m-%d"), tz) if text else None
    except ValueError:
        return None


def _lots(elements: Sequence[FlexLot], tz: tzinfo) -> list[Lot]:
    """``Lot`` elements: quantity, cost per unit and when opened (``ValueError`` naming
    the line on bad text or a missing ``openDateTime``)."""
    return read_lots(_lot_texts(elements), TIME_LAYOUTS, tz)


def _lot_texts(elements: Sequence[FlexLot]) -> Iterator[tuple[int, str, str, str]]:
    for element in elements:
        if not element.openDateTime.strip() or element.openDateTime.strip() == "--":
            raise ValueError(f"line {element.row}: the Lot has no openDateTime")
        yield element.row, element.quantity, element.tradePrice, element.openDateTime


def _add_cash(parsed: ParsedStatement, cash: FlexCash, tz: tzinfo) -> None:
    try:
        amount = read_amount(cash.amount)
    except ValueError as exc:
        parsed.error(cash.row, "CashTransaction/amount", str(exc), cash.raw)
        return
    try:
        amount = round(amount * _rate(cash.fxRateToBase), 2)
    except ValueError as exc:
        column, _, reason = str(exc).partition(": ")
        parsed.error(cash.row, f"CashTransaction/{column}", reason, cash.raw)
        return
    try:
        ts = parse_wall_time(cash.dateTime, TIME_LAYOUTS, tz)
    except ValueError as exc:
        parsed.error(cash.row, "CashTransaction/dateTime", str(exc), cash.raw)
        return
    transfer = cash.type.strip().lower() in ("deposits/withdrawals", "deposits & withdrawals")
    kind: CashKind = "adjustment"
    if transfer:
        kind = "deposit" if amount >= 0 else "withdrawal"
    parsed.cash.append(
        CashMovement(
            ts=ts,
            amount=amount,
            kind=kind,
            broker_id=cash.transactionID or None,
            comment=cash.description or cash.type,
            row=cash.row,
        )
    )
