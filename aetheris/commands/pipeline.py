"""``aetheris pipeline run``: the Armor dataflow on Kafka (one process, or one of a cluster).

    aetheris pipeline run                          # one process, one worker
    aetheris pipeline run -w 2                     # two workers in this process
    aetheris pipeline run -i 0 -a "h1:2101;h2:2101"  # process 0 of a two-process cluster
    aetheris pipeline init-recovery DIR -p 4       # create the recovery store once

With a recovery directory (``--recovery-dir`` or ``AETHERIS_RECOVERY_DIR``) the dataflow
snapshots its state every ``--snapshot-interval`` seconds and a restart resumes there.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import ExitStack
from pathlib import Path

from aetheris.commands.kafka_settings import kafka_settings
from infra.settings import NICE_RANGE, get_settings

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"aetheris pipeline: {message}", file=sys.stderr)
    return EXIT_USAGE


def _nice_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    low, high = NICE_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
    return value


def run(args: argparse.Namespace) -> int:
    # Bytewax and librdkafka are imported here, not at parse time, to keep `aetheris` quick.
    from infra.bus import BusError, Topics, open_bus  # noqa: PLC0415
    from infra.live import LivePublisher  # noqa: PLC0415
    from pipelines.armor import bus_flow  # noqa: PLC0415
    from pipelines.runner import (  # noqa: PLC0415
        RunOptions,
        ensure_recovery_store,
        recovery_partitions,
        run_dataflow,
        set_priority,
    )

    settings = kafka_settings(
        "aetheris pipeline",
        "the pipeline reads Kafka; the embedded in-process pipeline runs inside `aetheris demo`",
    )
    if settings is None:
        return EXIT_USAGE
    addresses = tuple(a for a in (args.addresses or "").split(";") if a)
    recovery_dir: Path | None = args.recovery_dir or settings.recovery_dir
    try:
        options = RunOptions(
            workers_per_process=args.workers,
            process_id=args.process_id,
            addresses=addresses,
            recovery_dir=recovery_dir,
            snapshot_interval_seconds=args.snapshot_interval or settings.snapshot_interval_seconds,
            backup_interval_seconds=args.backup_interval,
        )
    except ValueError as exc:
        return _fail(str(exc))
    if recovery_dir is not None and options.process_id is None:
        # A single process owns its store; a cluster's store is created once beforehand.
        ensure_recovery_store(recovery_dir, args.workers)
    elif recovery_dir is not None and not recovery_partitions(recovery_dir):
        return _fail(
            f"no recovery store in {recovery_dir}; create it once before starting the "
            "cluster: aetheris pipeline init-recovery DIR --partitions N"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    nice = args.nice if args.nice is not None else settings.pipeline_nice
    if nice is not None:
        # Before the bus and the dataflow start their threads: they inherit it.
        log = logging.getLogger("aetheris.pipeline")
        problem = set_priority(nice)
        if problem is None:
            log.info("running at nice %d", nice)
        else:
            log.warning("%s; running at the inherited priority", problem)
    topics = Topics.from_settings(settings)
    bus = open_bus(settings)
    with ExitStack() as resources:
        stores = []
        archive = None
        if settings.database_url is not None and not args.no_database:
            from infra.db.database import open_database  # noqa: PLC0415
            from pipelines.archive import database_archive  # noqa: PLC0415
            from pipelines.sinks import database_breach_store  # noqa: PLC0415

            database = resources.enter_context(open_database(settings))
            stores.append(database_breach_store(database.pool))
            # The production archive: accounts, ticks (kept per the interval setting)
            # and trades, beside the breaches.
            archive = database_archive(
                database.pool, tick_interval_seconds=settings.archive_tick_interval_seconds
            )
        live = None
        if settings.redis_url is not None and not args.no_redis:
            from infra.live.redis_store import RedisLive  # noqa: PLC0415

            redis_url = settings.redis_url
            prefix, timeout = settings.redis_prefix, settings.redis_timeout_seconds

            def live_publisher() -> LivePublisher:
                return RedisLive.from_url(redis_url, prefix, timeout)

            live = live_publisher
            probe = RedisLive.from_url(redis_url, prefix, timeout)
            problem = probe.check()
            probe.close()
            if problem is not None:
                logging.getLogger("aetheris.pipeline").warning(
                    "%s; the pipeline runs without it and publishes the live standing "
                    "once Redis answers",
                    problem,
                )
            logging.getLogger("aetheris.pipeline").info(
                "live standing to Redis under %r, at most one per account every %g ms "
                "and %s a second in all",
                prefix,
                settings.standing_interval_ms,
                f"{settings.standings_per_second:g}" if settings.standings_per_second else "any",
            )
        try:
            bus.partition_count(topics.events)
            flow = bus_flow(
                bus,
                topics,
                until_end=args.until_end,
                breach_stores=stores,
                archive=archive,
                round_size=settings.pipeline_round_size,
                live=live,
                standing_interval_seconds=settings.standing_interval_ms / 1000.0,
                standings_per_second=settings.standings_per_second or None,
            )
        except BusError as exc:
            return _fail(str(exc))
        run_dataflow(flow, options)
    return 0


def init_recovery(args: argparse.Namespace) -> int:
    from pipelines.runner import ensure_recovery_store, recovery_partitions  # noqa: PLC0415

    directory: Path | None = args.directory or get_settings().recovery_dir
    if directory is None:
        return _fail("give DIR or set AETHERIS_RECOVERY_DIR")
    if ensure_recovery_store(directory, args.partitions):
        print(f"created {args.partitions} recovery partitions in {directory}")
    else:
        found = len(recovery_partitions(directory))
        print(f"{directory} already holds {found} recovery partitions; kept them")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="run the streaming Armor pipeline on Kafka",
        description="The Bytewax dataflow: events topic in, breaches and dead letters out.",
    )
    commands = parser.add_subparsers(dest="pipeline_command", metavar="ACTION", required=True)

    run_parser = commands.add_parser(
        "run",
        help="run the dataflow (until stopped)",
        description=(
            "Read the events topic, keep per-account risk state, publish breaches, status "
            "changes and dead letters; with REDIS_URL, each account's live standing to "
            "Redis. Kafka from KAFKA_BOOTSTRAP_SERVERS, topics from the AETHERIS_TOPIC_* "
            "settings. Cluster mode: start one process per host with the same -a list and "
            "its own -i."
        ),
    )
    run_parser.add_argument(
        "-w", "--workers", type=int, default=1, help="worker threads in this process (1)"
    )
    run_parser.add_argument(
        "-i", "--process-id", type=int, default=None, help="this process's index in -a"
    )
    run_parser.add_argument(
        "-a",
        "--addresses",
        default=None,
        help='every process\'s host:port, separated by ";" (cluster mode)',
    )
    run_parser.add_argument(
        "--recovery-dir",
        type=Path,
        default=None,
        help="recovery store (default AETHERIS_RECOVERY_DIR; none: no recovery)",
    )
    run_parser.add_argument(
        "--snapshot-interval",
        type=float,
        default=None,
        help="seconds between state snapshots (default AETHERIS_SNAPSHOT_INTERVAL_SECONDS)",
    )
    run_parser.add_argument(
        "--backup-interval",
        type=float,
        default=0.0,
        help="seconds to keep superseded snapshots (when backing the store up)",
    )
    run_parser.add_argument(
        "--until-end",
        action="store_true",
        help="stop at the end of what the topic holds at start (replays and tests)",
    )
    run_parser.add_argument(
        "--nice",
        type=_nice_value,
        default=None,
        help=(
            "this process's nice value, -20 (highest priority) to 19 (default "
            "AETHERIS_PIPELINE_NICE; unset: inherited); below 0 needs CAP_SYS_NICE"
        ),
    )
    run_parser.add_argument(
        "--no-database",
        action="store_true",
        help="do not store breaches, ticks and trades in DATABASE_URL even when it is set",
    )
    run_parser.add_argument(
        "--no-redis",
        action="store_true",
        help="do not publish the live standing to REDIS_URL even when it is set",
    )
    run_parser.set_defaults(func=run)

    init_parser = commands.add_parser(
        "init-recovery",
        help="create the recovery store (once, before the first run of a cluster)",
        description="Same as python -m bytewax.recovery DIR PARTITIONS; keeps an existing store.",
    )
    init_parser.add_argument("directory", nargs="?", type=Path, default=None, metavar="DIR")
    init_parser.add_argument(
        "-p", "--partitions", type=int, default=1, help="recovery partitions to create (1)"
    )
    init_parser.set_defaults(func=init_recovery)
