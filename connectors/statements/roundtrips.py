"""Fills → closed round trips, first in first out, per broker account and instrument.

Pure. Statements that list executions (IBKR, NinjaTrader's Executions grid) say when
contracts were bought and sold but not which sale closed which purchase; this module
pairs them the way the brokers' own realised P&L does (FIFO) and keeps the rules every
such format shares:

- fills pair only within one ``key`` (the broker account and instrument), so two
  accounts trading the same contract on one day never close each other's positions;
- one closed trade per closing fill: a fill that closes several opening fills (a
  scale-in) gives one trade at their quantity-weighted entry price, several fills that
  close one opening fill (a scale-out or partial close) give one trade each;
- a fill larger than the open position closes it and opens the rest the other way;
- each fill's commission is counted once: it is split between the trades it takes part
  in by quantity, to the cent, and the last share takes what is left.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from connectors.statements.model import ParsedStatement
from connectors.statements.tables import invalid_trade
from schemas.events import TradeEvent

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution as the file gives it.

    ``commission`` is the whole fill's (negative when it is a cost); ``row`` the 1-based
    row it came from; ``realized`` the broker's realised P&L for it, when the file says;
    ``closes`` the broker's open/close flag, when it has one: a closing fill never opens
    a position, what it cannot close is reported in :attr:`Pairing.unmatched`.
    """

    key: str
    symbol: str
    side: Side
    quantity: float
    price: float
    ts: datetime
    fill_id: str
    commission: float = 0.0
    row: int | None = None
    realized: float | None = None
    closes: bool | None = None


@dataclass(frozen=True, slots=True)
class Piece:
    """The part of an opening fill one closing fill closed: ``commission`` is the
    opening fill's share, ``closing_commission`` the closing fill's share for it."""

    opening: Fill
    quantity: float
    commission: float
    closing_commission: float = 0.0

    def pnl(self, closing: Fill, multiplier: float) -> float:
        """This pair's price move × quantity × multiplier, less both commission shares."""
        sign = 1.0 if closing.side == "sell" else -1.0
        moved = (closing.price - self.opening.price) * self.quantity * sign * multiplier
        return moved + self.commission + self.closing_commission


@dataclass(frozen=True, slots=True)
class ClosedTrip:
    """What one closing fill closed: its pieces (oldest first) and its commission share.

    ``commission`` is the closing fill's own share plus every piece's share.
    """

    closing: Fill
    pieces: tuple[Piece, ...]
    quantity: float
    closing_commission: float

    @property
    def side(self) -> Literal["long", "short"]:
        return "long" if self.closing.side == "sell" else "short"

    @property
    def entry_price(self) -> float:
        total = sum(p.opening.price * p.quantity for p in self.pieces)
        return total / self.quantity

    @property
    def entry_time(self) -> datetime:
        return self.pieces[0].opening.ts

    @property
    def commission(self) -> float:
        return round(self.closing_commission + sum(p.commission for p in self.pieces), 2)

    def gross(self, multiplier: float) -> float:
        """Price difference × quantity × contract multiplier, in the trade's direction."""
        sign = 1.0 if self.side == "long" else -1.0
        moved = sum((self.closing.price - p.opening.price) * p.quantity for p in self.pieces)
        return sign * moved * multiplier


@dataclass(slots=True)
class _Lot:
    fill: Fill
    remaining: float
    commission: float


@dataclass(slots=True)
class Pairing:
    """The closed trips in closing order, the lots still open at the end, and the
    closing fills (with the quantity) whose opening is not among the fills."""

    trips: list[ClosedTrip] = field(default_factory=list)
    still_open: list[tuple[Fill, float]] = field(default_factory=list)
    unmatched: list[tuple[Fill, float]] = field(default_factory=list)


_EPSILON = 1e-9


def _share(left: float, part: float, remaining: float, total: float, whole: float) -> float:
    """The commission share of ``part`` of a fill: ``part/whole`` of the fill's ``total``
    to the cent, or all that is ``left`` when ``part`` is the rest of the fill."""
    if part >= remaining - _EPSILON:
        return round(left, 6)
    return round(total * part / whole, 2)


def pair_fifo(fills: Iterable[Fill]) -> Pairing:
    """Pair ``fills`` (in any order: sorted by time, file order kept for equal times)."""
    ordered = sorted(fills, key=lambda fill: fill.ts)
    books: dict[str, deque[_Lot]] = {}
    result = Pairing()
    for fill in ordered:
        book = books.setdefault(fill.key, deque())
        left = fill.quantity
        left_commission = fill.commission
        pieces: list[Piece] = []
        closing_commission = 0.0
        while left > _EPSILON and book and book[0].fill.side != fill.side:
            lot = book[0]
            take = min(left, lot.remaining)
            opening_share = _share(
                lot.commission, take, lot.remaining, lot.fill.commission, lot.fill.quantity
            )
            closing_share = _share(left_commission, take, left, fill.commission, fill.quantity)
            pieces.append(Piece(lot.fill, take, opening_share, closing_share))
            lot.remaining -= take
            lot.commission = round(lot.commission - opening_share, 6)
            left -= take
            left_commission = round(left_commission - closing_share, 6)
            closing_commission += closing_share
            if lot.remaining <= _EPSILON:
                book.popleft()
        if pieces:
            closed = sum(p.quantity for p in pieces)
            result.trips.append(ClosedTrip(fill, tuple(pieces), closed, closing_commission))
        if left > _EPSILON:
            if fill.closes:
                result.unmatched.append((fill, left))
            else:
                book.append(_Lot(fill, left, left_commission))
    for book in books.values():
        result.still_open.extend((lot.fill, lot.remaining) for lot in book)
    return result


@dataclass(frozen=True, slots=True)
class Lot:
    """An opening lot the broker itself says a closing fill closed (IBKR's closed lots):
    used when the opening fill is not in the file."""

    quantity: float
    price: float
    opened: datetime


def trip_from_lots(closing: Fill, lots: Sequence[Lot]) -> ClosedTrip:
    """The trip of ``closing`` over the broker's ``lots`` (oldest first); their
    commission is not known apart from their price, so only the closing fill's counts.

    ``ValueError`` when the lots do not add up to the closing fill's quantity.
    """
    total = sum(lot.quantity for lot in lots)
    if not lots or abs(total - closing.quantity) > _EPSILON:
        raise ValueError(
            f"the closed lots add up to {total:g}, the fill closes {closing.quantity:g}"
        )
    opening_side: Side = "buy" if closing.side == "sell" else "sell"
    pieces = tuple(
        Piece(
            Fill(
                key=closing.key,
                symbol=closing.symbol,
                side=opening_side,
                quantity=lot.quantity,
                price=lot.price,
                ts=lot.opened,
                fill_id=f"{closing.fill_id}/lot{number}",
            ),
            lot.quantity,
            0.0,
        )
        for number, lot in enumerate(sorted(lots, key=lambda lot: lot.opened), start=1)
    )
    return ClosedTrip(closing, pieces, total, closing.commission)


def closed_trade(trip: ClosedTrip, *, account_id: str, trade_id: str, pnl: float) -> TradeEvent:
    """The contract trade of a trip (``ValueError`` from the contract when it refuses)."""
    return TradeEvent(
        account_id=account_id,
        broker_trade_id=trade_id,
        status="closed",
        symbol=trip.closing.symbol,
        side=trip.side,
        quantity=trip.quantity,
        entry_price=round(trip.entry_price, 8),
        entry_time=trip.entry_time,
        exit_price=trip.closing.price,
        exit_time=trip.closing.ts,
        pnl=round(pnl, 2),
        commission=trip.commission,
    )


LotLine = TypeVar("LotLine")


@dataclass(frozen=True, slots=True)
class TripWording:
    """How a format names its parts in row errors: ``trade`` the section of its fills,
    ``lot`` the section of its closed-lot lines, ``no_opening`` the reason given for a
    closing fill whose opening is neither in the file nor in closed-lot lines (formatted
    with ``quantity`` and ``symbol``)."""

    trade: str
    lot: str
    no_opening: str


def add_closed_trips(
    parsed: ParsedStatement,
    fills: Iterable[Fill],
    lots: Mapping[int, Sequence[LotLine]],
    read_lots: Callable[[Sequence[LotLine]], list[Lot]],
    *,
    account_id: str,
    wording: TripWording,
    number_repeats: bool = False,
) -> None:
    """Pair ``fills`` first in first out and add one closed trade per closing fill to
    ``parsed``, its ``pnl`` the broker's realised P&L (IBKR's statements: the broker did
    the sums, so no contract multiplier is needed).

    A closing fill whose opening is not among the fills is built from the broker's
    closed-lot lines under it (``lots``, by the fill's row; ``read_lots`` reads them, a
    ``ValueError`` is reported), and reported when it has none. ``number_repeats``: a
    fill id seen again gets ``#2``, ``#3``, … (ids built from what the line says can
    repeat). Lots still open at the end are counted as skipped.
    """
    pairing = pair_fifo(fills)
    trips = list(pairing.trips)
    for fill, quantity in pairing.unmatched:
        closed_lots = lots.get(fill.row or 0)
        if closed_lots and quantity >= fill.quantity - _EPSILON:
            try:
                trips.append(trip_from_lots(fill, read_lots(closed_lots)))
            except ValueError as exc:
                parsed.error(fill.row, wording.lot, str(exc))
            continue
        parsed.error(
            fill.row,
            wording.trade,
            wording.no_opening.format(quantity=quantity, symbol=fill.symbol),
        )
    seen_ids: dict[str, int] = {}
    for trip in trips:
        closing = trip.closing
        trade_id = closing.fill_id
        if number_repeats:
            seen_ids[trade_id] = seen_ids.get(trade_id, 0) + 1
            if seen_ids[trade_id] > 1:
                trade_id = f"{trade_id}#{seen_ids[trade_id]}"
        pnl = closing.realized if closing.realized is not None else 0.0
        try:
            event = closed_trade(trip, account_id=account_id, trade_id=trade_id, pnl=pnl)
        except ValueError as exc:
            parsed.error(closing.row, wording.trade, invalid_trade(exc))
            continue
        parsed.add_trade(event, closing.row)
    parsed.skipped += len(pairing.still_open)
