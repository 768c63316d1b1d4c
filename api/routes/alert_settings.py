"""The signed-in user's alert settings (``/api/v1/auth/me/alerts``): e-mail for level-3
alerts is off until the user turns it on."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, Services
from api.ports import Alerts
from api.services import ApiServices

router = APIRouter(prefix="/api/v1/auth/me/alerts", tags=["auth"])


class AlertSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email_level3: bool = Field(strict=True, description="e-mail me each level-3 (breached) alert")


def _alerts(services: ApiServices) -> Alerts:
    if services.alerts is None:
        raise HTTPException(503, "no database configured")
    return services.alerts


@router.get("", responses={401: {}, 503: {}})
def get_alert_settings(user: CurrentUser, services: Services) -> AlertSettings:
    return AlertSettings(email_level3=_alerts(services).email_level3(user.id))


@router.put("", responses={401: {}, 422: {}, 503: {}})
def put_alert_settings(body: AlertSettings, user: CurrentUser, services: Services) -> AlertSettings:
    _alerts(services).set_email_level3(user.id, body.email_level3)
    return AlertSettings(email_level3=_alerts(services).email_level3(user.id))
