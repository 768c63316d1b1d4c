"""The risk overview of all of the signed-in user's accounts (``GET /api/v1/risk``): live
standings read from the stream side's store, aggregated by :mod:`risk_engine.exposure`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser, Services
from risk_engine.exposure import MonitoredAccount, risk_overview
from schemas.risk import RiskOverview

router = APIRouter(prefix="/api/v1/risk", tags=["accounts"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}}
MAX_ACCOUNTS = 500


@router.get("", responses=RESPONSES)
def overview(user: CurrentUser, services: Services) -> RiskOverview:
    """Equity, headroom to each rule's level 3, open breaches; totals per currency."""
    accounts = services.accounts.all(user.id, MAX_ACCOUNTS)
    standings = services.standings.get_many([a.id for a in accounts])
    return risk_overview(
        [
            MonitoredAccount(
                account_id=a.id,
                name=a.name,
                ruleset=a.ruleset,
                currency=a.currency,
                standing=standings.get(a.id),
            )
            for a in accounts
        ]
    )
