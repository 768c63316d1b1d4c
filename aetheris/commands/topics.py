"""``aetheris topics create``: create the Kafka topics the settings name (admin client)."""

from __future__ import annotations

import argparse
import sys

from aetheris.commands.kafka_settings import kafka_settings

EXIT_FAILED = 1
EXIT_USAGE = 2


def create(args: argparse.Namespace) -> int:
    from infra.bus import BusError, Topics, open_bus  # noqa: PLC0415

    settings = kafka_settings("aetheris topics", "the in-process bus creates its topics itself")
    if settings is None:
        return EXIT_USAGE
    topics = Topics.from_settings(settings)
    partitions: int = args.partitions or topics.partitions
    bus = open_bus(settings)
    try:
        created = bus.create_topics(topics.all(), partitions)
        counts = {name: bus.partition_count(name) for name in topics.all()}
    except BusError as exc:
        print(f"aetheris topics: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for name in topics.all():
        state = "created" if name in created else "exists"
        print(f"{name}\t{counts[name]} partitions\t{state}")
    mismatched = sorted(name for name in topics.all() if counts[name] != partitions)
    if mismatched:
        print(
            f"aetheris topics: {', '.join(mismatched)} already exist with another partition "
            f"count than {partitions}; one account's events stay in order either way, but "
            "the pipeline's parallelism follows the events topic",
            file=sys.stderr,
        )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "topics",
        help="manage the Kafka topics",
        description="Kafka topics named by the AETHERIS_TOPIC_* settings.",
    )
    commands = parser.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    create_parser = commands.add_parser(
        "create",
        help="create the events, breaches, dead-letter and status topics (existing ones kept)",
        description=(
            "Create the events, breaches, dead-letter and status topics on KAFKA_BOOTSTRAP_SERVERS "
            "with AETHERIS_TOPIC_PARTITIONS partitions (AETHERIS_TOPIC_REPLICATION_FACTOR "
            "replicas). Safe to run again."
        ),
    )
    create_parser.add_argument(
        "-p", "--partitions", type=int, default=None, help="partitions per topic (settings)"
    )
    create_parser.set_defaults(func=create)
