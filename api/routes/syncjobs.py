"""Sync jobs (``/api/v1/brokers/sync``): a poll run of a stored REST connection or an
uploaded statement, run by ``aetheris worker sync`` off the Redis queue; their status,
progress (rows done of total) and sync log. Another user's job id is 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.brokerports import BrokerServices
from api.deps import CurrentUser, OwnedAccount, Services, get_owned_account
from api.routes.brokers import broker_services
from infra.jobs import QueueError
from schemas.api import ID_PATTERN
from schemas.brokers import JobProgress, JobStarted, JobView

router = APIRouter(prefix="/api/v1/brokers/sync", tags=["sync jobs"])

RESPONSES: dict[int | str, dict[str, Any]] = {401: {}, 404: {}, 422: {}, 503: {}}


class PollRequest(BaseModel):
    """Which stored connection to poll (default: the account's first REST connection)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_id: UUID | None = None


# POST takes an account id and GET a job id at the same place, as one path in the
# OpenAPI document (two templates there would each look like the other's missing method).
SyncId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=ID_PATTERN,
        description="POST: the account id; GET: the job id",
    ),
]


@router.post("/{sync_id}", status_code=202, responses=RESPONSES)
def start_poll(
    sync_id: SyncId,
    user: CurrentUser,
    services: Services,
    body: PollRequest | None = None,
) -> JobStarted:
    """One poll run of the account's stored REST connection (``sync_id``: the account id),
    as a job."""
    account = get_owned_account(sync_id, user, services)
    brokers = broker_services(services)
    connections = brokers.connections.for_account(user.id, account.id)
    wanted = body.connection_id if body is not None else None
    chosen = next(
        (c for c in connections if c.kind == "rest" and (wanted is None or c.id == wanted)),
        None,
    )
    if chosen is None:
        raise HTTPException(404, "the account has no such stored REST connection")
    job_id = brokers.jobs.create(user.id, account.id, "poll", connection_id=chosen.id)
    _enqueue(brokers, job_id, services.clock())
    return JobStarted(job_id=job_id, status="queued")


@router.post("/{account_id}/statement", status_code=202, responses={**RESPONSES, 413: {}})
async def upload_statement(  # noqa: PLR0917 -- FastAPI parameters
    request: Request,
    account: OwnedAccount,
    user: CurrentUser,
    services: Services,
    format: Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9-]+$")] = "auto",
    timezone: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_+\-/: ]+$")] = None,
    filename: Annotated[str, Query(max_length=200, pattern=r"^[^/\\\x00]+$")] = "statement",
) -> JobStarted:
    """The statement file as the raw body (any content type), imported by a job."""
    brokers = broker_services(services)
    if format not in brokers.formats:
        raise HTTPException(
            422, f"unknown format {format!r}: use one of {', '.join(brokers.formats)}"
        )
    limit = brokers.upload_max_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the statement is larger than {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise HTTPException(422, "the body is empty: send the statement file as the body")
    job_id = await run_in_threadpool(
        lambda: brokers.jobs.create(
            user.id,
            account.id,
            "statement",
            format=format,
            filename=filename,
            timezone=timezone,
            payload=data,
        )
    )
    await run_in_threadpool(_enqueue, brokers, job_id, services.clock())
    return JobStarted(job_id=job_id, status="queued")


def _enqueue(brokers: BrokerServices, job_id: UUID, now: datetime) -> None:
    """Queue the job; if the queue is away, the job is marked failed and the answer is 503."""
    try:
        brokers.queue.enqueue(job_id)
    except QueueError as exc:
        brokers.jobs.finish(job_id, "failed", now, error=str(exc))
        raise HTTPException(503, "the sync queue is not reachable; try again shortly") from None


@router.get("/{sync_id}", responses=RESPONSES)
def get_job(sync_id: SyncId, user: CurrentUser, services: Services) -> JobView:
    """The job ``sync_id``: status, progress and sync log."""
    brokers = broker_services(services)
    try:
        job_id = UUID(sync_id)
    except ValueError:
        raise HTTPException(404, "not found") from None
    job = brokers.jobs.owned(user.id, job_id)
    if job is None:
        raise HTTPException(404, "not found")
    log = brokers.jobs.sync_log(job.sync_log_id) if job.sync_log_id is not None else None
    done = log.get("rows_done") if log else None
    total = log.get("rows_total") if log else None
    rows_done = done if isinstance(done, int) else 0
    return JobView(
        job_id=job.id,
        account_id=job.account_id,
        kind=job.kind,
        status=job.status,
        attempts=job.attempts,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
        progress=JobProgress(
            rows_done=rows_done, rows_total=total if isinstance(total, int) else None
        ),
        sync_log=log,
    )
