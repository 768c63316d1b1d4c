"""What one delivery attempt came to (HTTP or SMTP)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttemptOutcome:
    """``succeeded``; the HTTP status or SMTP reply code when there was one; the error."""

    succeeded: bool
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
