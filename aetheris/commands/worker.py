"""``aetheris worker notify``: deliver breaches as signed webhooks and level-3 e-mail.
``aetheris worker sync``: run broker sync jobs (statement uploads, REST polls) off the
Redis queue (docs/connectors.md).

Reads the breach topic (Kafka when ``KAFKA_BOOTSTRAP_SERVERS`` is set), queues deliveries
in PostgreSQL and sends them with retries; several workers may run at once. SIGTERM or
Ctrl-C stops it after the round in progress (docs/alerts.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

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
            worker.close()
            if bus is not None:
                bus.close()
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
