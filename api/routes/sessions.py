"""Trading sessions (``/api/v1/sessions``): start and end, with the trades closed in
them, their net P&L and whether the tilt rule fired."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import NOT_FOUND, CurrentUser, Services
from schemas.api import ID_PATTERN, SessionStart, SessionView

router = APIRouter(prefix="/api/v1/sessions", tags=["trading sessions"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}}

SessionIdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="a session's id")]


@router.post("", status_code=201, responses=RESPONSES)
def start_session(body: SessionStart, user: CurrentUser, services: Services) -> SessionView:
    started = services.sessions.start(user.id, body.account_id, body.notes)
    if started is None:
        raise HTTPException(404, NOT_FOUND)
    return started


@router.get("", responses=RESPONSES)
def list_sessions(
    user: CurrentUser,
    services: Services,
    account_id: Annotated[str, Query(pattern=ID_PATTERN)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SessionView]:
    if services.accounts.get(user.id, account_id) is None:
        raise HTTPException(404, NOT_FOUND)
    return services.sessions.for_account(user.id, account_id, limit)


@router.get("/{session_id}", responses=RESPONSES)
def get_session(session_id: SessionIdPath, user: CurrentUser, services: Services) -> SessionView:
    found = services.sessions.get(user.id, session_id)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return found


@router.post("/{session_id}/end", responses=RESPONSES)
def end_session(session_id: SessionIdPath, user: CurrentUser, services: Services) -> SessionView:
    ended = services.sessions.end(user.id, session_id)
    if ended is None:
        raise HTTPException(404, NOT_FOUND)
    return ended
