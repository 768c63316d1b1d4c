"""Stored breaches of the signed-in user's accounts (``/api/v1/alerts``); issue 12 adds
filters and dismissal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import NOT_FOUND, CurrentUser, Services
from api.ports import StoredAlert
from schemas.api import ID_PATTERN

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", responses={401: {}, 404: {}, 422: {}, 503: {}})
def alerts(
    user: CurrentUser,
    services: Services,
    account_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[StoredAlert]:
    if services.history is None:
        raise HTTPException(503, "no database configured")
    if account_id is not None:
        if services.accounts.get(user.id, account_id) is None:
            raise HTTPException(404, NOT_FOUND)
        accounts = [account_id]
    else:
        accounts = services.accounts.owned_ids(user.id)
    return services.history.alerts(accounts, limit)
