"""Trading-journal KPIs of one of the user's accounts (``/api/v1/metrics/{id}``): the same
keys as ``aetheris kpis`` (docs/kpis.md), from the stored trades and balances."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import EARLIEST, LATEST, NOT_FOUND, AccountIdPath, CurrentUser, Services, timestamp
from schemas.api import ISO_TIMESTAMP

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])


@router.get("/{account_id}", responses={401: {}, 404: {}, 422: {}, 503: {}})
def metrics(
    account_id: AccountIdPath,
    user: CurrentUser,
    services: Services,
    since: Annotated[str | None, Query(alias="from", pattern=ISO_TIMESTAMP)] = None,
    until: Annotated[str | None, Query(alias="to", pattern=ISO_TIMESTAMP)] = None,
) -> dict[str, Any]:
    """KPIs of the trades closed in ``[from, to)`` (both optional, ISO-8601 with offset)."""
    from risk_engine.metrics import (  # noqa: PLC0415 - polars only for this route
        KpiConfig,
        compute_kpis_by_account,
        journal_from_events,
    )

    if services.journals is None:
        raise HTTPException(503, "no database configured")
    start, end = timestamp("from", since, EARLIEST), timestamp("to", until, LATEST)
    if start >= end:
        raise HTTPException(422, "from must be before to")
    events = services.journals.events(user.id, account_id, start, end)
    if events is None:
        raise HTTPException(404, NOT_FOUND)
    journal, _ = journal_from_events(events)
    result: dict[str, Any] = compute_kpis_by_account(journal, KpiConfig())[account_id]
    return result
