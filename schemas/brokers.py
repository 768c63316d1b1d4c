"""Bodies and records of broker connections, the MetaTrader bridge and sync jobs (API).

A connection's credentials go in once (``credentials``) and never come back out: the
records below have no field that could carry them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

BrokerKind = Literal["rest", "fix", "mt4", "mt5"]
# PostgreSQL text and jsonb cannot hold NUL: refused at the border (422), never a 500.
_NO_NUL = r"^[^\x00]*$"
ConnectionLabel = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00]+$"),
]
_Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]
# Strict: a long digit string must not pass as a number (lax mode would coerce it).
_SettingValue = (
    Annotated[str, Field(strict=True, max_length=2_048, pattern=_NO_NUL)]
    | Annotated[int, Field(strict=True)]
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
    | Annotated[bool, Field(strict=True)]
)
SyncStatus = Literal["pending", "running", "success", "failed"]
JobStatus = Literal["queued", "running", "retrying", "done", "failed"]
JobKind = Literal["statement", "poll"]

MAX_CREDENTIAL_FIELDS = 16
MAX_SETTINGS_FIELDS = 32


class ConnectionCreate(BaseModel):
    """A broker connection of an account: ``settings`` are shown back, ``credentials``
    (API token, FIX password, …) are encrypted at rest and never returned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: BrokerKind
    label: ConnectionLabel
    broker: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")] = ""
    settings: Annotated[
        dict[_Key, _SettingValue],
        Field(max_length=MAX_SETTINGS_FIELDS),
    ] = Field(default_factory=dict)
    credentials: Annotated[
        dict[_Key, Annotated[str, Field(max_length=4_096)]],
        Field(max_length=MAX_CREDENTIAL_FIELDS),
    ] = Field(default_factory=dict)


class ConnectionView(BaseModel):
    """A stored connection as the API shows it: never the secret."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    account_id: str
    kind: str
    broker: str
    label: str
    settings: dict[str, Any]
    has_credentials: bool
    sync_status: str
    last_sync_at: datetime | None
    last_error: str | None
    created_at: datetime


class BridgeKeyIssued(BaseModel):
    """A new bridge key: shown once, at issue; the EA signs each batch with it."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    key: str
    created_at: datetime


class BridgeAccepted(BaseModel):
    """What a bridge batch did (its sync log)."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    sync_log_id: int
    status: str
    new: int
    updated: int
    duplicates: int
    balance_events: int
    errors: list[dict[str, Any]]


class JobStarted(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: UUID
    status: JobStatus


class JobProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows_done: int
    rows_total: int | None


class JobView(BaseModel):
    """A sync job: status, progress (rows done of total) and its sync log."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    account_id: str
    kind: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    progress: JobProgress
    sync_log: dict[str, Any] | None
