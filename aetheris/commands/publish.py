"""``aetheris publish FILE.jsonl``: publish contract events to the events topic, in order.

Each valid line goes to the events topic keyed by its account id (so the pipeline
applies one account's events in file order); bad lines are reported with their line
number and not published.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from aetheris.commands.jsonl import ReadSummary, read_events
from aetheris.commands.kafka_settings import kafka_settings

if TYPE_CHECKING:
    from infra.bus import EventPublisher

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


@dataclass(slots=True)
class PublishSummary:
    published: int = 0
    bad_lines: int = 0

    def line(self, topic: str) -> str:
        return (
            f"publish: {self.published} events published to {topic}, "
            f"{self.bad_lines} bad lines skipped"
        )


def publish_lines(lines: Iterable[str], events: EventPublisher, errors: TextIO) -> PublishSummary:
    """Publish each valid line in order; report bad ones on ``errors``; flush at the end."""
    summary = PublishSummary()
    read = ReadSummary()
    for event in read_events(lines, read, errors, "aetheris publish"):
        events.publish_event(event)
        summary.published += 1
        if summary.published % 1000 == 0:
            events.poll()
    summary.bad_lines = read.bad_lines
    events.flush()
    return summary


def run(args: argparse.Namespace) -> int:
    from infra.bus import BusError, EventPublisher, Topics, open_bus  # noqa: PLC0415

    settings = kafka_settings(
        "aetheris publish", "to run a file through the engine without Kafka use `aetheris replay`"
    )
    if settings is None:
        return EXIT_BAD_INPUT
    source: str = args.file
    try:
        stream: IO[str] = (
            sys.stdin if source == "-" else Path(source).open(encoding="utf-8")  # noqa: SIM115
        )
    except OSError as exc:
        print(f"aetheris publish: cannot open {source}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    topics = Topics.from_settings(settings)
    bus = open_bus(settings)
    try:
        bus.partition_count(topics.events)
        events = EventPublisher(bus.publisher(), topics)
        with stream:
            summary = publish_lines(stream, events, sys.stderr)
    except BusError as exc:
        print(f"aetheris publish: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UnicodeDecodeError as exc:
        print(f"aetheris publish: {source} is not UTF-8 text ({exc.reason})", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summary.line(topics.events), file=sys.stderr)
    return EXIT_BAD_INPUT if summary.bad_lines else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="publish a contract JSONL file to Kafka, in order (replay history live)",
        description=(
            "Publish account/balance/trade events from FILE (JSONL) or '-' to the events "
            "topic on KAFKA_BOOTSTRAP_SERVERS, keyed by account id, in file order. Bad lines "
            "are reported with their line number and skipped (exit code 2)."
        ),
    )
    parser.add_argument("file", metavar="FILE|-", help="JSONL events file, or - for stdin")
    parser.set_defaults(func=run)
