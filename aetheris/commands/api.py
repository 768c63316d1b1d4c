"""``aetheris api serve``: the production API (uvicorn) on PostgreSQL, Redis and Kafka.

Before it listens it checks what it needs -- a strong ``AETHERIS_SECRET_KEY``, valid
``AETHERIS_ENCRYPTION_KEYS``, and that PostgreSQL, Redis and Kafka answer -- and stops
with a clear message otherwise; then it migrates the database and starts ``--workers``
processes. They share nothing but those services, so more processes or hosts may serve
the same API behind a load balancer.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.settings import Settings


class StartupError(RuntimeError):
    """A reason the API cannot start, said plainly."""


def check_services(settings: Settings) -> None:
    """Every setting and service the API needs, or :class:`StartupError` naming the first
    that is missing or unreachable."""
    import psycopg  # noqa: PLC0415
    import redis  # noqa: PLC0415
    from confluent_kafka import KafkaException  # noqa: PLC0415
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    from aetheris.apiwiring import api_limits, api_secrets  # noqa: PLC0415
    from infra.db.pool import redact_url  # noqa: PLC0415
    from infra.settings import unset_services  # noqa: PLC0415

    try:
        api_secrets(settings)
        api_limits(settings)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    missing = unset_services(settings)
    if missing:
        raise StartupError(
            f"{', '.join(missing)} not set: the API runs on PostgreSQL, Redis and Kafka "
            "(`aetheris demo` runs everything embedded instead)"
        )
    assert settings.database_url and settings.redis_url and settings.kafka_bootstrap_servers
    url = settings.database_url.get_secret_value()
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise StartupError(f"PostgreSQL at {redact_url(url)} is unreachable: {exc}") from None
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise StartupError(
            f"Redis at {redact_url(settings.redis_url)} is unreachable: {exc}"
        ) from None
    finally:
        client.close()
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "socket.timeout.ms": 5000}
    )
    try:
        admin.list_topics(timeout=8)
    except KafkaException as exc:
        raise StartupError(
            f"Kafka at {settings.kafka_bootstrap_servers} is unreachable: {exc}"
        ) from None


def serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from infra.bus import Topics  # noqa: PLC0415
    from infra.bus.kafka import KafkaBus  # noqa: PLC0415
    from infra.db.database import prepare_database  # noqa: PLC0415
    from infra.observability import configure_logging, start_metrics_server  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    if settings.metrics_port is not None and args.workers > 1:
        print(
            "aetheris api serve: AETHERIS_METRICS_PORT serves one process's metrics; run "
            "one worker per replica (--workers 1, more replicas behind the proxy) or unset it",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_format)
    try:
        check_services(settings)
    except StartupError as exc:
        print(f"aetheris api serve: {exc}", file=sys.stderr)
        return 2
    assert settings.database_url is not None and settings.kafka_bootstrap_servers is not None
    prepare_database(settings.database_url.get_secret_value(), timescale=settings.db_timescale)
    topics = Topics.from_settings(settings)
    bus = KafkaBus(
        settings.kafka_bootstrap_servers, replication_factor=settings.topic_replication_factor
    )
    bus.create_topics(topics.all(), topics.partitions)
    bus.close()
    print(
        f"AETHERIS API: serving on http://{args.host}:{args.port} with {args.workers} "
        f"worker(s)  (Ctrl-C stops)",
        flush=True,
    )
    # uvicorn runs the app in this very process with one worker: the endpoint sees its metrics.
    start_metrics_server(settings.metrics_host, settings.metrics_port)
    uvicorn.run(
        "aetheris.apiwiring:app_from_settings",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_seconds,
        # One worker runs here, under configure_logging; spawned workers keep uvicorn's own.
        log_config=None if args.workers == 1 else uvicorn.config.LOGGING_CONFIG,
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api", help="the production API (users, accounts, trades)", description=__doc__
    )
    commands = parser.add_subparsers(dest="api_command", metavar="SUBCOMMAND", required=True)
    run = commands.add_parser("serve", help="serve the API with uvicorn", description=__doc__)
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port (8000)")
    run.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    run.add_argument("--log-level", default="warning", help="uvicorn log level (warning)")
    run.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For from --forwarded-allow-ips (behind a reverse proxy)",
    )
    run.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose forwarded headers are trusted (127.0.0.1)",
    )
    run.set_defaults(func=serve)
