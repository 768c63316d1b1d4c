"""``aetheris db``: migrate, show the schema state, check stored data, run the embedded server.

Without ``--url`` the database is ``DATABASE_URL``, or -- when that is unset -- the
embedded PostgreSQL under the data folder (started on demand). Storage modules are
imported inside the actions, so other commands never pay for them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.db.migrate import TimescaleMode

_BACKEND_NAMES = {
    "postgresql": "plain PostgreSQL (daily roll-up kept by triggers)",
    "timescaledb": "TimescaleDB (hypertables, continuous aggregates)",
}


def _url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    from infra.db.database import resolve_database_url  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    return resolve_database_url(get_settings())


def _timescale(args: argparse.Namespace) -> TimescaleMode:
    from infra.settings import get_settings  # noqa: PLC0415

    modes: dict[str, TimescaleMode] = {"auto": "auto", "require": "require", "off": "off"}
    chosen = getattr(args, "timescale", None) or get_settings().db_timescale
    return modes[chosen]


def _aware_time(option: str, text: str) -> datetime:
    """An option's ISO-8601 timestamp, which must carry an offset (ValueError says why)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} {text!r} is not an ISO-8601 timestamp") from None
    if value.tzinfo is None:
        raise ValueError(f"{option} needs an offset or Z, e.g. 2026-03-01T00:00:00Z")
    return value


def _fail(message: str) -> int:
    print(f"aetheris db: error: {message}", file=sys.stderr)
    return 2


def _migrate(args: argparse.Namespace) -> int:
    import psycopg  # noqa: PLC0415

    from infra.db.database import prepare_database  # noqa: PLC0415
    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.db.pool import redact_url  # noqa: PLC0415

    try:
        url = _url(args)
        report = prepare_database(url, timescale=_timescale(args))
    except (StorageError, psycopg.Error) as exc:
        return _fail(str(exc))
    print(f"database: {redact_url(url)}")
    print(f"backend:  {_BACKEND_NAMES[report.backend]}")
    if report.note:
        print(f"note:     {report.note}")
    for migration in report.applied:
        print(f"applied   {migration.filename}")
    total = len(report.applied) + len(report.already_applied)
    print(f"schema up to date ({total} migrations, {len(report.applied)} applied now)")
    return 0


def _status(args: argparse.Namespace) -> int:
    import psycopg  # noqa: PLC0415

    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.db.migrate import applied_migrations, migrations_for  # noqa: PLC0415
    from infra.db.pool import connect, redact_url  # noqa: PLC0415

    try:
        url = _url(args)
        with connect(url, autocommit=True) as conn:
            applied = {row.version: row for row in applied_migrations(conn)}
    except (StorageError, psycopg.Error) as exc:
        return _fail(str(exc))
    backend = next(iter(applied.values())).backend if applied else None
    print(f"database: {redact_url(url)}")
    print(f"backend:  {_BACKEND_NAMES[backend] if backend else 'not migrated yet'}")
    pending = 0
    for migration in migrations_for(backend or "postgresql"):
        row = applied.get(migration.version)
        if row is None:
            pending += 1
            print(f"  {migration.version:04d} {migration.name:<28} pending")
        else:
            applied_at = f"{row.applied_at:%Y-%m-%d %H:%M:%S%z}"
            print(f"  {migration.version:04d} {migration.name:<28} applied {applied_at}")
    print(f"{pending} pending" if pending else "schema up to date")
    return 1 if pending else 0


def _check(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.db.pool import connect  # noqa: PLC0415
    from infra.db.storage_report import storage_report  # noqa: PLC0415

    since: datetime | None = None
    if args.since:
        try:
            since = _aware_time("--since", args.since)
        except ValueError as exc:
            return _fail(str(exc))
    if args.top < 0:
        return _fail(f"--top must be 0 or more, got {args.top}")
    try:
        url = _url(args)
        with connect(url, application_name="aetheris-check") as conn:
            storage = storage_report(conn, now=datetime.now(UTC), top=args.top)
            conn.commit()
            if args.storage_only:
                report = None
            else:
                from infra.quality.stored import check_stored_data  # noqa: PLC0415

                report = check_stored_data(
                    conn, now=datetime.now(UTC), since=since, chunk_rows=args.chunk_rows
                )
    except (StorageError, psycopg.Error) as exc:
        return _fail(str(exc))
    combined: dict[str, object] = {} if report is None else json.loads(report.to_json())
    combined["storage"] = storage.to_dict()
    if args.json:
        print(json.dumps(combined, indent=2))
    else:
        print(storage.to_text())
        if report is not None:
            print(report.to_text())
    if args.output:
        with open(args.output, "w", encoding="utf-8") as output:
            output.write(json.dumps(combined, indent=2) + "\n")
    return 0 if report is None or report.success else 1


def _run_jobs(args: argparse.Namespace) -> int:
    import psycopg  # noqa: PLC0415

    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.db.migrate import database_backend  # noqa: PLC0415
    from infra.db.pool import connect  # noqa: PLC0415
    from infra.db.storage_report import (  # noqa: PLC0415
        COMPRESSION,
        REFRESH,
        RETENTION,
        run_policy_jobs,
    )

    kinds = {"refresh": [REFRESH], "compression": [COMPRESSION], "retention": [RETENTION]}
    chosen = kinds.get(args.kind, [REFRESH, COMPRESSION, RETENTION])
    try:
        url = _url(args)
        with connect(url, autocommit=True, application_name="aetheris-jobs") as conn:
            if database_backend(conn) != "timescaledb":
                return _fail(
                    "this database is not on TimescaleDB: its roll-up is kept by triggers "
                    "and old ticks are deleted by `aetheris db prune`"
                )
            for kind in chosen:
                for job_id in run_policy_jobs(conn, kind):
                    print(f"ran job {job_id} ({kind})")
    except (StorageError, psycopg.Error) as exc:
        return _fail(str(exc))
    return 0


def _prune(args: argparse.Namespace) -> int:
    import psycopg  # noqa: PLC0415

    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.db.pool import connect  # noqa: PLC0415
    from infra.db.retention import prune_ticks  # noqa: PLC0415

    if args.before is not None:
        try:
            cutoff = _aware_time("--before", args.before)
        except ValueError as exc:
            return _fail(str(exc))
    elif args.older_than_days is not None:
        if args.older_than_days < 1:
            return _fail(f"--older-than-days must be at least 1, got {args.older_than_days}")
        cutoff = datetime.now(UTC) - timedelta(days=args.older_than_days)
    else:
        return _fail("say which ticks: --older-than-days N or --before TIMESTAMP")
    if args.batch_size < 1:
        return _fail(f"--batch-size must be at least 1, got {args.batch_size}")
    try:
        url = _url(args)
        with connect(url, application_name="aetheris-prune") as conn:
            report = prune_ticks(conn, cutoff, batch_size=args.batch_size)
    except (StorageError, psycopg.Error) as exc:
        return _fail(str(exc))
    print(
        f"deleted {report.ticks:,} balance ticks before {cutoff.isoformat()} of "
        f"{report.accounts:,} accounts in {report.batches:,} transactions; the daily "
        "roll-up keeps their days"
    )
    return 0


def _start(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    from infra.db.database import prepare_database  # noqa: PLC0415
    from infra.db.embedded import start_embedded  # noqa: PLC0415
    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    data_dir = Path(args.data_dir) if args.data_dir else get_settings().data_dir
    try:
        server = start_embedded(data_dir)
        report = prepare_database(server.url, timescale=_timescale(args))
    except (StorageError, psycopg.Error) as exc:
        return _fail(str(exc))
    print(f"embedded PostgreSQL running in {server.pgdata}", file=sys.stderr)
    if report.applied:
        print(f"applied {len(report.applied)} migrations", file=sys.stderr)
    print(server.url)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from infra.db.embedded import pgdata_path, stop_embedded  # noqa: PLC0415
    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    data_dir = Path(args.data_dir) if args.data_dir else get_settings().data_dir
    try:
        stopped = stop_embedded(data_dir)
    except StorageError as exc:
        return _fail(str(exc))
    where = pgdata_path(data_dir)
    print(f"stopped the embedded PostgreSQL in {where}" if stopped else f"not running: {where}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db", help="the database: migrate, check stored data, run the embedded PostgreSQL"
    )
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    url_help = "database URL (default: DATABASE_URL, else the embedded server under .aetheris/)"

    migrate = actions.add_parser("migrate", help="apply pending migrations (safe to re-run)")
    migrate.add_argument("--url", help=url_help)
    migrate.add_argument(
        "--timescale",
        choices=["auto", "require", "off"],
        help="use TimescaleDB when available (auto, the default), insist on it, or not",
    )
    migrate.set_defaults(func=_migrate)

    status = actions.add_parser("status", help="list applied and pending migrations")
    status.add_argument("--url", help=url_help)
    status.set_defaults(func=_status)

    check = actions.add_parser(
        "check",
        help="report the storage (backend, policy jobs, aggregate lag, tick volume) and run "
        "the data-quality suites over stored trades and ticks",
    )
    check.add_argument("--url", help=url_help)
    check.add_argument("--since", help="only rows at or after this ISO-8601 time")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--output", help="also write the JSON report to this file")
    check.add_argument(
        "--chunk-rows", type=int, default=250_000, help="rows validated at a time (memory)"
    )
    check.add_argument(
        "--storage-only", action="store_true", help="only the storage report (no data suites)"
    )
    check.add_argument("--top", type=int, default=20, help="accounts listed by tick volume (20)")
    check.set_defaults(func=_check)

    jobs = actions.add_parser(
        "run-jobs",
        help="run the TimescaleDB policy jobs now (refresh, compression, retention)",
        description=(
            "Runs the database's policy jobs in this session (CALL run_job), in the order "
            "refresh, compression, retention; for a server whose job scheduler is off or "
            "failing (see `aetheris db check`), or from cron."
        ),
    )
    jobs.add_argument("--url", help=url_help)
    jobs.add_argument(
        "--kind", choices=["refresh", "compression", "retention"], help="only these jobs"
    )
    jobs.set_defaults(func=_run_jobs)

    prune = actions.add_parser(
        "prune",
        help="delete old raw balance ticks, keeping the daily roll-up (plain PostgreSQL)",
        description=(
            "Raw tick retention on plain PostgreSQL (TimescaleDB has a retention policy): "
            "deletes balance ticks older than the cutoff in short transactions, account "
            "by account; the daily roll-up keeps their days. Run it from cron or a timer."
        ),
    )
    prune.add_argument("--url", help=url_help)
    which = prune.add_mutually_exclusive_group()
    which.add_argument("--older-than-days", type=int, help="ticks older than this many days")
    which.add_argument("--before", help="ticks before this ISO-8601 time (with an offset)")
    prune.add_argument(
        "--batch-size", type=int, default=50_000, help="ticks deleted per transaction (50,000)"
    )
    prune.set_defaults(func=_prune)

    start = actions.add_parser(
        "start", help="start the embedded PostgreSQL, migrate it, print its URL"
    )
    start.add_argument("--data-dir", help="folder of the embedded server (default .aetheris)")
    start.set_defaults(func=_start)

    stop = actions.add_parser("stop", help="stop the embedded PostgreSQL")
    stop.add_argument("--data-dir", help="folder of the embedded server (default .aetheris)")
    stop.set_defaults(func=_stop)
