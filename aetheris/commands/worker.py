"""``aetheris worker notify``: deliver breaches as signed webhooks and level-3 e-mail.
``aetheris worker sync``: run broker sync jobs (statement uploads, REST polls) off the
Redis queue (docs/connectors.md).

Reads the breach topic (Kafka when ``KAFKA_BOOTSTRAP_SERVERS`` is set), queues deliveries
in PostgreSQL and sends them with retries; several workers may run at once. SIGTERM or
Ctrl-C stops it after the round in progress (docs/alerts.md). The same process runs the
daily KPI snapshot job every ``AETHERIS_KPI_SNAPSHOT_SECONDS`` (0: off);
``aetheris worker kpi-snapshots`` runs that job alone (docs/metrics.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.db.pool import Pool

EXIT_USAGE = 2


def notify(args: argparse.Namespace) -> int:
    from aetheris.notify import notify_worker  # noqa: PLC0415
    from infra.bus import BusError, open_bus  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.notify.cipher import CipherError  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    if settings.database_url is None:
        print(
            "aetheris worker notify: DATABASE_URL is not set (the delivery queue lives in "
            "PostgreSQL)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bus = open_bus(settings) if settings.kafka_bootstrap_servers else None
    with open_database(settings, name="aetheris-notify") as database:
        try:
            worker = notify_worker(settings, database.pool, bus)
        except (CipherError, ValueError) as exc:
            print(f"aetheris worker notify: {exc}", file=sys.stderr)
            return EXIT_USAGE
        snapshots = _snapshot_thread(database.pool, stop, settings.kpi_snapshot_seconds)
        try:
            if bus is not None:
                worker.open_reader(from_beginning=args.from_beginning)
            else:
                logging.getLogger("aetheris.notify").warning(
                    "KAFKA_BOOTSTRAP_SERVERS is not set: delivering queued alerts only"
                )
            worker.run(stop)
        except BusError as exc:
            print(f"aetheris worker notify: {exc}", file=sys.stderr)
            return 1
        finally:
            stop.set()
            if snapshots is not None:
                snapshots.join(timeout=30)
            worker.close()
            if bus is not None:
                bus.close()
    return 0


def _snapshot_thread(
    pool: Pool, stop: threading.Event, interval_seconds: float
) -> threading.Thread | None:
    """The KPI snapshot job on a thread of this process (None when switched off)."""
    from aetheris.kpi_snapshots import KpiSnapshotJob  # noqa: PLC0415

    if interval_seconds <= 0:
        return None
    thread = threading.Thread(
        target=KpiSnapshotJob(pool).run,
        args=(stop, interval_seconds),
        name="kpi-snapshots",
        daemon=True,
    )
    thread.start()
    return thread


def kpi_snapshots(args: argparse.Namespace) -> int:
    from aetheris.kpi_snapshots import KpiSnapshotJob  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    if settings.database_url is None:
        print("aetheris worker kpi-snapshots: DATABASE_URL is not set", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with open_database(settings, name="aetheris-kpi-snapshots") as database:
        job = KpiSnapshotJob(database.pool)
        if args.once:
            print(f"kpi-snapshots: {job.run_once()} daily snapshots stored")
            return 0
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        job.run(stop, settings.kpi_snapshot_seconds or 60.0)
    return 0


def sync(args: argparse.Namespace) -> int:
    from aetheris.syncworker import run_sync_worker  # noqa: PLC0415

    return run_sync_worker(burst=args.burst)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("worker", help="background workers", description=__doc__)
    workers = parser.add_subparsers(dest="worker", metavar="WORKER", required=True)
    notify_parser = workers.add_parser(
        "notify", help="deliver breaches as signed webhooks and e-mail", description=__doc__
    )
    notify_parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="on the first start, read the breach topic from its beginning (default: from "
        "its end); later starts resume where the last one stopped",
    )
    notify_parser.set_defaults(func=notify)
    snapshot_parser = workers.add_parser(
        "kpi-snapshots",
        help="store each trading day's KPIs when the day ends",
        description=__doc__,
    )
    snapshot_parser.add_argument(
        "--once", action="store_true", help="one round, then exit (for cron)"
    )
    snapshot_parser.set_defaults(func=kpi_snapshots)
    sync_parser = workers.add_parser(
        "sync",
        help="run broker sync jobs (statement uploads, REST polls) off the Redis queue",
        description="Runs the sync jobs the API queues (POST /api/v1/brokers/sync/...) on "
        "REDIS_URL's queue AETHERIS_SYNC_QUEUE, with PostgreSQL and Kafka from the settings; "
        "failed jobs are retried after AETHERIS_SYNC_RETRY_SECONDS. Several may run at once.",
    )
    sync_parser.add_argument(
        "--burst", action="store_true", help="run the queued jobs, then exit (default: keep on)"
    )
    sync_parser.set_defaults(func=sync)
