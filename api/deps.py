"""Request dependencies: the services, the signed-in user, and "this user's account
``{id}`` or 404" -- so no route can forget the owner check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.security import AccessClaims, InvalidAccessToken
from api.services import ApiServices
from schemas.api import ID_PATTERN, AccountRecord, UserRecord, parse_timestamp

_bearer = HTTPBearer(auto_error=False, description="an access token from POST /auth/login")

NOT_FOUND = "not found"


def get_services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]


def unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def get_claims(
    services: Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorised("not signed in: send Authorization: Bearer <access token>")
    if len(credentials.credentials) > 4_096:
        raise unauthorised("the access token is not valid")
    try:
        return services.tokens.read(credentials.credentials)
    except InvalidAccessToken:
        raise unauthorised("the access token is not valid (expired, altered or not ours)") from None


Claims = Annotated[AccessClaims, Depends(get_claims)]


def get_current_user(services: Services, claims: Claims) -> UserRecord:
    user = services.users.session_user(claims.user_id, claims.session_id)
    if user is None:
        raise unauthorised("the session has ended: sign in again")
    return user


CurrentUser = Annotated[UserRecord, Depends(get_current_user)]

AccountIdPath = Annotated[
    str, Path(min_length=1, max_length=128, pattern=ID_PATTERN, description="an account id")
]


def get_owned_account(
    account_id: AccountIdPath, user: CurrentUser, services: Services
) -> AccountRecord:
    """The signed-in user's account, or 404 exactly as for an id that does not exist."""
    account = services.accounts.get(user.id, account_id)
    if account is None:
        raise HTTPException(404, NOT_FOUND)
    return account


OwnedAccount = Annotated[AccountRecord, Depends(get_owned_account)]


# Query timestamps -----------------------------------------------------------------------

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def timestamp(name: str, value: str | None, default: datetime) -> datetime:
    """A query's timestamp, or 422 naming the parameter (a 31 February, say)."""
    if value is None:
        return default
    moment = parse_timestamp(value)
    if moment is None:
        raise HTTPException(422, f"{name}: not a date and time")
    return moment
