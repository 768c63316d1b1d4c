"""The sync-job queue on Redis, with rq (a maintained, small, synchronous job queue:
our import and poll code is synchronous, so rq's plain worker runs it as it is).

The API enqueues only a job id; the job's bytes and state live in PostgreSQL
(``sync_jobs``), so Redis holds nothing secret. Retries back off by the given intervals
(rq's scheduler moves a failed job back to the queue when its interval is up).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import redis
from rq import Queue, Retry

JOB_FUNCTION = "aetheris.syncjobs.run_sync_job"
JOB_TIMEOUT_SECONDS = 1_800
RESULT_TTL_SECONDS = 86_400


class QueueError(RuntimeError):
    """The queue (Redis) did not take the job."""


class RqJobQueue:
    """:class:`api.brokerports.JobQueue` on an rq queue."""

    def __init__(
        self,
        connection: redis.Redis[bytes],
        name: str,
        *,
        retry_intervals: Sequence[int] = (10, 60, 300),
    ) -> None:
        self.name = name
        self.queue = Queue(name, connection=connection)
        self._intervals = list(retry_intervals)

    def enqueue(self, job_id: UUID) -> None:
        retry = (
            Retry(max=len(self._intervals), interval=self._intervals) if self._intervals else None
        )
        try:
            self.queue.enqueue(
                JOB_FUNCTION,
                str(job_id),
                job_id=f"{self.name}-{job_id}",
                retry=retry,
                job_timeout=JOB_TIMEOUT_SECONDS,
                result_ttl=RESULT_TTL_SECONDS,
                failure_ttl=RESULT_TTL_SECONDS,
            )
        except redis.RedisError as exc:
            raise QueueError(f"the sync queue did not take the job: {type(exc).__name__}") from None


def retry_intervals(text: str) -> list[int]:
    """``"10,60,300"`` → seconds between attempts (``ValueError`` says what is wrong)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"AETHERIS_SYNC_RETRY_SECONDS: {text!r} is not a comma-separated list of seconds"
        ) from None
    if any(v < 0 for v in values) or len(values) > 20:
        raise ValueError("AETHERIS_SYNC_RETRY_SECONDS: up to 20 non-negative numbers of seconds")
    return values
