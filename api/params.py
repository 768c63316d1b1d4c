"""Query parameter types shared by the alert and metrics routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator


def _iso_8601_only(value: Any) -> Any:
    """Only an ISO-8601 time with its offset: pydantic alone would also read ``0.5`` as
    seconds since 1970, which the schema (``format: date-time``) does not allow."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("give an ISO-8601 time with its offset, e.g. 2026-03-02T09:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "not an ISO-8601 time; give one with its offset, e.g. 2026-03-02T09:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError("give the time zone offset too, e.g. 2026-03-02T09:00:00Z")
    return parsed


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]
"""An aware time in ISO-8601 (``2026-03-02T09:00:00Z``)."""
