"""``aetheris worker sync``: an rq worker over the sync queue, its jobs' context wired
from the settings (PostgreSQL, Kafka, the key box).

rq's ``SimpleWorker`` runs each job in this process (no fork: the database pool and the
Kafka producer are not fork-safe), and its scheduler moves failed jobs back to the queue
when their retry interval is up. SIGTERM or Ctrl-C stop it after the job in progress.
"""

from __future__ import annotations

import sys

EXIT_USAGE = 2


def run_sync_worker(*, burst: bool = False) -> int:
    from rq import SimpleWorker  # noqa: PLC0415

    from aetheris.apiwiring import redis_client  # noqa: PLC0415
    from aetheris.syncjobs import SyncContext, set_context  # noqa: PLC0415
    from infra.bus import BusError, EventPublisher, Topics, open_bus  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.jobs import RqJobQueue  # noqa: PLC0415
    from infra.notify.ssrf import parse_allowed_networks  # noqa: PLC0415
    from infra.observability import configure_logging, start_metrics_server  # noqa: PLC0415
    from infra.secrets import SecretBox, SecretsError, parse_keys  # noqa: PLC0415
    from infra.settings import get_settings, unset_services  # noqa: PLC0415

    settings = get_settings()
    missing = unset_services(settings)
    if missing:
        print(f"aetheris worker sync: {', '.join(missing)} must be set", file=sys.stderr)
        return EXIT_USAGE
    try:
        box = SecretBox(parse_keys(settings.encryption_keys))
        allowed = parse_allowed_networks(settings.webhook_allowed_networks)
    except (SecretsError, ValueError) as exc:
        print(f"aetheris worker sync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log_format)
    # Process metrics (CPU, memory) for the compose healthcheck and Prometheus.
    metrics = start_metrics_server(settings.metrics_host, settings.metrics_port)
    assert settings.redis_url is not None
    connection = redis_client(settings.redis_url)
    bus = open_bus(settings)
    publisher = EventPublisher(bus.publisher(), Topics.from_settings(settings))
    with open_database(settings, name="aetheris-sync") as database:
        set_context(
            SyncContext(
                pool=database.pool,
                publisher=publisher,
                box=box,
                oanda_api_url=settings.oanda_api_url,
                allowed_networks=allowed,
            )
        )
        try:
            queue = RqJobQueue(connection, settings.sync_queue).queue
            worker = SimpleWorker([queue], connection=connection)
            worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
        except BusError as exc:
            print(f"aetheris worker sync: {exc}", file=sys.stderr)
            return 1
        finally:
            set_context(None)
            publisher.close()
            bus.close()
            connection.close()
            if metrics is not None:
                metrics.close()
    return 0
