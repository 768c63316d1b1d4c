"""KPIs and P&L views of one of the signed-in user's accounts (``/api/v1/metrics``): the
metrics engine over a time range, one trading day's snapshot, a month's P&L calendar and
the downsampled equity curve. Another user's account is 404, as a missing one. And the
KPIs of all the user's accounts together (``/api/v1/metrics`` itself), one currency at a
time."""

from __future__ import annotations

import calendar as month_days
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, OwnedAccount, Services
from api.params import IsoTime
from api.ports import MetricsStore, MixedCurrencies
from api.services import ApiServices

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}, 503: {}}
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class CalendarDay(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    net_pnl: float
    trades: int
    wins: int
    losses: int


class MonthCalendar(BaseModel):
    """A month's trading days with P&L (days without trades or ticks are left out)."""

    model_config = ConfigDict(frozen=True)

    month: str
    days: list[CalendarDay]
    net_pnl: float
    trading_days: int
    green_days: int
    red_days: int


class EquityPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    ts: datetime
    balance: float
    equity: float


class EquityCurve(BaseModel):
    """At most ``4 * buckets`` points: each bucket's first, lowest, highest and last tick."""

    model_config = ConfigDict(frozen=True)

    buckets: int
    points: list[EquityPoint]


def _store(services: ApiServices) -> MetricsStore:
    if services.metrics is None:
        raise HTTPException(503, "no database configured")
    return services.metrics


def _range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise HTTPException(422, "to: must be after from")


KPI_DOCUMENT = {
    "content": {"application/json": {"schema": {"type": "object"}}},
}


@router.get(
    "",
    response_class=Response,
    responses={
        401: {},
        422: {},
        503: {},
        200: {"description": "the KPI document of the accounts as one book", **KPI_DOCUMENT},
    },
)
def book_kpis(
    user: CurrentUser,
    services: Services,
    since: Annotated[IsoTime | None, Query(alias="from")] = None,
    until: Annotated[IsoTime | None, Query(alias="to")] = None,
    currency: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Z]{3}$",
            description="only the accounts in this currency (needed when they are in several)",
        ),
    ] = None,
) -> Response:
    """Every KPI of all the user's accounts together as one book (the keys of ``aetheris
    kpis --combined``): their trades, daily closes and starting balances added up, the
    calendar, equity curve and breakdowns of the whole book. Money in different currencies
    is never added: when the accounts are in more than one, ``currency`` picks which
    (422 without it, naming the currencies)."""
    _range(since, until)
    owned = services.accounts.owned_ids(user.id)
    try:
        found = _store(services).book_kpis(owned, since, until, currency)
    except MixedCurrencies as mixed:
        listed = ", ".join(mixed.currencies)
        raise HTTPException(
            422,
            f"currency: your accounts are in {listed}; money in different currencies is not "
            f"added up, so ask for one of them (currency={mixed.currencies[0]})",
        ) from None
    return Response(found, media_type="application/json")


@router.get(
    "/{account_id}",
    response_class=Response,
    responses={
        **RESPONSES,
        200: {
            "description": "the KPI document (docs/kpis.md)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
def kpis(
    account: OwnedAccount,
    services: Services,
    since: Annotated[IsoTime | None, Query(alias="from")] = None,
    until: Annotated[IsoTime | None, Query(alias="to")] = None,
) -> Response:
    """Every KPI of the account's closed trades (by exit time) and balance ticks in
    ``[from, to)`` -- the keys of ``aetheris kpis`` (docs/kpis.md). The starting balance
    is the initial balance plus every trade closed before ``from``."""
    _range(since, until)
    found = _store(services).kpis(account.id, since, until)
    if found is None:
        raise HTTPException(404, "not found")
    return Response(found, media_type="application/json")


@router.get("/{account_id}/calendar", responses=RESPONSES)
def month_calendar(
    account: OwnedAccount,
    services: Services,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
) -> MonthCalendar:
    """The month's trading days (labelled as the account's rule set counts them)."""
    year, number = int(month[:4]), int(month[5:])
    if not 1970 <= year <= 9998:
        raise HTTPException(422, "month: the year must be between 1970 and 9998")
    last = month_days.monthrange(year, number)[1]
    rows = _store(services).calendar(account.id, date(year, number, 1), date(year, number, last))
    days = [
        CalendarDay(
            day=row.day,
            net_pnl=float(row.net_pnl),
            trades=row.trades,
            wins=row.wins,
            losses=row.losses,
        )
        for row in rows
    ]
    return MonthCalendar(
        month=month,
        days=days,
        net_pnl=round(sum(d.net_pnl for d in days), 10),
        trading_days=len(days),
        green_days=sum(1 for d in days if d.net_pnl > 0),
        red_days=sum(1 for d in days if d.net_pnl < 0),
    )


@router.get("/{account_id}/equity", responses=RESPONSES)
def equity_curve(
    account: OwnedAccount,
    services: Services,
    since: Annotated[IsoTime | None, Query(alias="from")] = None,
    until: Annotated[IsoTime | None, Query(alias="to")] = None,
    buckets: Annotated[int, Query(ge=1, le=2_000)] = 250,
) -> EquityCurve:
    """The balance ticks of ``[from, to)`` (all of them by default) cut into ``buckets``
    equal time spans, each reduced to its first, lowest, highest and last equity point."""
    _range(since, until)
    points = _store(services).equity_curve(account.id, since, until, buckets)
    return EquityCurve(
        buckets=buckets,
        points=[EquityPoint(ts=p.ts, balance=p.balance, equity=p.equity) for p in points],
    )


@router.get("/{account_id}/{day}", responses=RESPONSES)
def day_kpis(account: OwnedAccount, services: Services, day: date) -> dict[str, Any]:
    """The KPIs of one trading day, from the snapshot the job stored when the day ended
    (404 until then, and for a day without trades or ticks)."""
    found = _store(services).day_kpis(account.id, day)
    if found is None:
        raise HTTPException(404, f"no KPI snapshot of {account.id} for {day.isoformat()}")
    return found
