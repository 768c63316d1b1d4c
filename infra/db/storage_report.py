"""What the storage is doing: backend, TimescaleDB policy jobs and their last runs, the
continuous aggregates' lag, compression, and tick volume per account.

``aetheris db check`` prints it before the data-quality report; tests and benchmarks
use :func:`policy_jobs` / :func:`run_policy_jobs` to run the policies on demand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from infra.db.errors import StorageError
from infra.db.migrate import Backend, database_backend

Connection = psycopg.Connection[TupleRow]

REFRESH = "policy_refresh_continuous_aggregate"
COMPRESSION = "policy_compression"
RETENTION = "policy_retention"


@dataclass(frozen=True, slots=True)
class PolicyJob:
    """One TimescaleDB policy job of this database and its last run."""

    job_id: int
    kind: str  # policy_refresh_continuous_aggregate | policy_compression | policy_retention
    target: str  # the hypertable or continuous aggregate it works on
    schedule_interval: timedelta
    scheduled: bool
    last_run_started_at: datetime | None
    last_run_status: str | None
    last_successful_finish: datetime | None
    total_runs: int
    total_failures: int
    next_start: datetime | None


@dataclass(frozen=True, slots=True)
class AggregateLag:
    """A continuous aggregate's watermark (rows before it are materialised) and its lag
    behind ``now``; both None before the first refresh."""

    view: str
    watermark: datetime | None
    lag: timedelta | None


@dataclass(frozen=True, slots=True)
class TickVolume:
    account_id: str
    ticks: int
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True)
class Compression:
    """Raw tick chunks compressed so far and their size before and after."""

    chunks: int
    compressed_chunks: int
    bytes_before: int | None
    bytes_after: int | None


@dataclass(frozen=True)
class StorageReport:
    backend: Backend
    generated_at: datetime
    ticks_total: int
    ticks_bytes: int
    tick_volume: list[TickVolume] = field(default_factory=list)
    accounts_with_ticks: int = 0
    jobs: list[PolicyJob] = field(default_factory=list)
    aggregates: list[AggregateLag] = field(default_factory=list)
    compression: Compression | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(asdict(self))
        return data

    def to_text(self) -> str:
        lines = [f"storage: {self.backend}"]
        if self.backend == "postgresql":
            lines.append(
                "  daily roll-up: kept by triggers in the writing transaction (no lag); "
                "raw tick retention: `aetheris db prune`"
            )
        for job in self.jobs:
            last = (
                f"last run {job.last_run_started_at:%Y-%m-%d %H:%M:%S%z} {job.last_run_status}"
                if job.last_run_started_at is not None
                else "never run"
            )
            state = "" if job.scheduled else " (paused)"
            lines.append(
                f"  job {job.job_id} {job.kind} on {job.target}: every "
                f"{job.schedule_interval}{state}; {last}; {job.total_runs} runs, "
                f"{job.total_failures} failed"
            )
        for aggregate in self.aggregates:
            if aggregate.watermark is None:
                lines.append(f"  {aggregate.view}: never refreshed (read in real time)")
            else:
                lines.append(
                    f"  {aggregate.view}: materialised up to "
                    f"{aggregate.watermark:%Y-%m-%d %H:%M:%S%z}, lag {aggregate.lag}"
                )
        if self.compression is not None:
            c = self.compression
            sizes = (
                f", {c.bytes_before:,} bytes before, {c.bytes_after:,} after"
                if c.bytes_before is not None and c.bytes_after is not None
                else ""
            )
            lines.append(
                f"  balance_ticks compression: {c.compressed_chunks} of {c.chunks} chunks{sizes}"
            )
        lines.append(
            f"  balance ticks: {self.ticks_total:,} of {self.accounts_with_ticks:,} accounts, "
            f"{self.ticks_bytes:,} bytes on disk"
        )
        for volume in self.tick_volume:
            span = (
                f"{volume.first_ts:%Y-%m-%d %H:%M} .. {volume.last_ts:%Y-%m-%d %H:%M}"
                if volume.first_ts is not None and volume.last_ts is not None
                else ""
            )
            lines.append(f"    {volume.account_id:<24} {volume.ticks:>12,}  {span}")
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _finite(column: str) -> str:
    return f"CASE WHEN isfinite({column}) THEN {column} END"


_JOBS = """
SELECT j.job_id, j.proc_name, coalesce(j.hypertable_name, ''), j.schedule_interval,
       j.scheduled, {started}, s.last_run_status, {finished},
       coalesce(s.total_runs, 0), coalesce(s.total_failures, 0), {next_start}
FROM timescaledb_information.jobs j
LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
WHERE j.hypertable_schema = 'public'
ORDER BY j.job_id
""".format(  # never-run jobs report +/-infinity, which Python cannot hold: None instead
    started=_finite("s.last_run_started_at"),
    finished=_finite("s.last_successful_finish"),
    next_start=_finite("j.next_start"),
)


def policy_jobs(conn: Connection) -> list[PolicyJob]:
    """The policy jobs of this TimescaleDB database (compression, retention, refresh)."""
    return [PolicyJob(*row) for row in conn.execute(_JOBS).fetchall()]


def run_policy_jobs(conn: Connection, kind: str, target: str | None = None) -> list[int]:
    """Run the policy jobs of ``kind`` (on ``target`` if given) now, in job order;
    returns their ids. ``conn`` must be in autocommit mode (``CALL run_job``)."""
    if not conn.autocommit:
        raise StorageError("run_policy_jobs needs an autocommit connection")
    ran: list[int] = []
    for job in policy_jobs(conn):
        if job.kind == kind and (target is None or job.target == target):
            conn.execute("CALL run_job(%s)", (job.job_id,))
            ran.append(job.job_id)
    return ran


# The watermark is stored as microseconds since 2000-01-01 in the internal format;
# before the first refresh it is the type's minimum (year 4714 BC): reported as None.
_WATERMARKS = """
SELECT c.view_name,
       CASE WHEN w.mark > -62135596800000000
            THEN _timescaledb_functions.to_timestamp(w.mark) END
FROM timescaledb_information.continuous_aggregates c
JOIN _timescaledb_catalog.hypertable h
  ON h.schema_name = c.materialization_hypertable_schema
 AND h.table_name = c.materialization_hypertable_name
CROSS JOIN LATERAL (SELECT _timescaledb_functions.cagg_watermark(h.id) AS mark) w
WHERE c.view_schema = 'public'
ORDER BY c.view_name
"""


def aggregate_lags(conn: Connection, now: datetime) -> list[AggregateLag]:
    rows = conn.execute(_WATERMARKS).fetchall()
    return [
        AggregateLag(view=row[0], watermark=row[1], lag=None if row[1] is None else now - row[1])
        for row in rows
    ]


_COMPRESSION = """
SELECT count(*), count(*) FILTER (WHERE is_compressed)
FROM timescaledb_information.chunks
WHERE hypertable_schema = 'public' AND hypertable_name = 'balance_ticks'
"""
_COMPRESSION_BYTES = """
SELECT sum(before_compression_total_bytes)::bigint, sum(after_compression_total_bytes)::bigint
FROM chunk_compression_stats('balance_ticks') WHERE compression_status = 'Compressed'
"""


def tick_compression(conn: Connection) -> Compression:
    counts = conn.execute(_COMPRESSION).fetchone()
    sizes = conn.execute(_COMPRESSION_BYTES).fetchone()
    assert counts is not None and sizes is not None
    return Compression(
        chunks=int(counts[0]),
        compressed_chunks=int(counts[1]),
        bytes_before=None if sizes[0] is None else int(sizes[0]),
        bytes_after=None if sizes[1] is None else int(sizes[1]),
    )


def tick_bytes(conn: Connection, backend: Backend) -> int:
    """Disk bytes of ``balance_ticks`` (all chunks and indexes on TimescaleDB)."""
    if backend == "timescaledb":
        row = conn.execute("SELECT hypertable_size('balance_ticks')").fetchone()
    else:
        row = conn.execute("SELECT pg_total_relation_size('balance_ticks')").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


_VOLUME = """
SELECT account_id, count(*), min(ts), max(ts)
FROM balance_ticks
GROUP BY account_id
ORDER BY count(*) DESC, account_id
"""


def storage_report(conn: Connection, *, now: datetime, top: int = 20) -> StorageReport:
    """The report of a migrated database; ``top``: accounts listed by tick volume."""
    backend = database_backend(conn)
    if backend is None:
        raise StorageError("the database is not migrated: run `aetheris db migrate` first")
    volume = [TickVolume(*row) for row in conn.execute(_VOLUME).fetchall()]
    report = StorageReport(
        backend=backend,
        generated_at=now,
        ticks_total=sum(v.ticks for v in volume),
        ticks_bytes=tick_bytes(conn, backend),
        tick_volume=volume[:top],
        accounts_with_ticks=len(volume),
    )
    if backend == "timescaledb":
        report = StorageReport(
            **{
                **report.__dict__,
                "jobs": policy_jobs(conn),
                "aggregates": aggregate_lags(conn, now),
                "compression": tick_compression(conn),
            }
        )
    return report
