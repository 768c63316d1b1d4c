"""Accounts of the signed-in user, with their live standing (``/api/v1/accounts``).

Creating or changing an account publishes its ``account`` event first, so the pipeline
monitors exactly what is stored; deleting hides it and keeps its history.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import CurrentUser, OwnedAccount, Services
from api.ports import DailyRow, PublishError
from api.services import ApiServices
from schemas import RULE_NAMES, AccountEvent
from schemas.api import AccountCreate, AccountRecord, AccountUpdate, AccountView
from schemas.rulesets import Ruleset, RulesetError, builtin_rulesets, with_overrides

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}}


@cache
def _templates() -> dict[str, Ruleset]:
    return builtin_rulesets()


def check_ruleset(name: str, overrides: dict[str, Any] | None) -> None:
    """422 unless ``name`` is a built-in template and the overrides fit it."""
    template = _templates().get(name)
    if template is None:
        known = ", ".join(sorted(_templates()))
        raise HTTPException(422, f"unknown ruleset {name!r}: use one of {known}")
    try:
        with_overrides(template, overrides)
    except (RulesetError, ValueError, TypeError) as exc:
        raise HTTPException(422, f"overrides do not fit ruleset {name!r}: {exc}") from None


def publish(services: ApiServices, event: AccountEvent) -> None:
    try:
        services.events.publish(event)
    except PublishError:
        raise HTTPException(
            503, "the event bus did not take the change; nothing was stored, try again"
        ) from None


def _event(account: AccountRecord) -> AccountEvent:
    return AccountEvent(
        account_id=account.id,
        ruleset=account.ruleset,
        initial_balance=account.initial_balance,
        currency=account.currency,
        overrides=account.overrides or None,
        name=account.name,
    )


def with_standings(services: ApiServices, accounts: list[AccountRecord]) -> list[AccountView]:
    standings = services.standings.get_many([a.id for a in accounts])
    return [AccountView(**a.model_dump(), standing=standings.get(a.id)) for a in accounts]


@router.post("", status_code=201, responses={**RESPONSES, 503: {}})
def create_account(body: AccountCreate, user: CurrentUser, services: Services) -> AccountView:
    check_ruleset(body.ruleset, body.overrides)
    account_id = services.account_ids()
    publish(
        services,
        AccountEvent(
            account_id=account_id,
            ruleset=body.ruleset,
            initial_balance=body.initial_balance,
            currency=body.currency,
            overrides=body.overrides,
            name=body.name,
        ),
    )
    record = services.accounts.create(user.id, account_id, body)
    return AccountView(**record.model_dump(), standing=None)


@router.get("", responses=RESPONSES)
def list_accounts(
    user: CurrentUser,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> list[AccountView]:
    return with_standings(services, services.accounts.all(user.id, limit))


@router.get("/{account_id}", responses=RESPONSES)
def get_account(account: OwnedAccount, services: Services) -> AccountView:
    return with_standings(services, [account])[0]


@router.put("/{account_id}", responses={**RESPONSES, 503: {}})
def update_account(
    body: AccountUpdate, account: OwnedAccount, user: CurrentUser, services: Services
) -> AccountView:
    """Change fields; what the engine uses (ruleset, overrides, balance, currency, name)
    is published as a new ``account`` event before it is stored."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    merged = account.model_copy(update=changes)
    check_ruleset(merged.ruleset, merged.overrides or None)
    if _event(merged) != _event(account):
        publish(services, _event(merged))
    updated = services.accounts.update(user.id, account.id, body)
    if updated is None:
        raise HTTPException(404, "not found")
    return with_standings(services, [updated])[0]


def unmonitored(account: AccountRecord) -> AccountEvent:
    """The account's registration with every rule switched off (``null`` overrides): the
    event contract's way to stop the engine from raising breaches for it."""
    return _event(account).model_copy(
        update={"overrides": {**account.overrides, **dict.fromkeys(RULE_NAMES)}}
    )


@router.delete("/{account_id}", status_code=204, responses={**RESPONSES, 503: {}})
def delete_account(account: OwnedAccount, user: CurrentUser, services: Services) -> Response:
    """Stop monitoring the account and hide it; its ticks, trades and breaches stay."""
    publish(services, unmonitored(account))
    if not services.accounts.delete(user.id, account.id):
        raise HTTPException(404, "not found")
    return Response(status_code=204)


@router.get("/{account_id}/daily", responses={**RESPONSES, 503: {}})
def daily(
    account: OwnedAccount,
    services: Services,
    days: Annotated[int, Query(ge=1, le=3_660)] = 90,
) -> list[DailyRow]:
    if services.history is None:
        raise HTTPException(503, "no database configured")
    return services.history.daily(account.id, days)
