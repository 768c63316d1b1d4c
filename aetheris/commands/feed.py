"""``aetheris feed simulate``: a simulated broker feed of N accounts published to Kafka."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from aetheris.commands.kafka_settings import kafka_settings

EXIT_FAILED = 1
EXIT_USAGE = 2


def simulate(args: argparse.Namespace) -> int:
    from connectors.simulator import SimulatedDesk, run_feed  # noqa: PLC0415
    from infra.bus import END, BusError, EventPublisher, Reader, Topics, open_bus  # noqa: PLC0415

    settings = kafka_settings(
        "aetheris feed", "`aetheris demo` runs the simulator on the in-process bus"
    )
    if settings is None:
        return EXIT_USAGE
    if args.accounts < 1 or args.rate <= 0:
        print("aetheris feed: --accounts and --rate must be positive", file=sys.stderr)
        return EXIT_USAGE
    start = args.start or datetime.now(UTC)
    desk = SimulatedDesk(
        args.accounts,
        seed=args.seed,
        start=start,
        tick_interval=timedelta(seconds=1 / args.rate),
    )
    topics = Topics.from_settings(settings)
    bus = open_bus(settings)
    statuses: Reader | None = None
    try:
        bus.partition_count(topics.events)
        if topics.status is not None and not args.ignore_status:
            try:
                count = bus.partition_count(topics.status)
            except BusError as exc:
                print(
                    f"aetheris feed: {exc}; the traders will not hear status changes",
                    file=sys.stderr,
                )
            else:
                statuses = bus.reader(topics.status, dict.fromkeys(range(count), END))
        report = run_feed(
            desk,
            EventPublisher(bus.publisher(), topics),
            rate=args.rate,
            max_events=args.events,
            duration=args.duration,
            statuses=statuses,
        )
    except BusError as exc:
        print(f"aetheris feed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(report.line(), file=sys.stderr)
    return 0


def _aware_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give an offset or Z, e.g. 2026-03-02T08:00:00Z")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "feed", help="simulated broker feeds", description="Simulated broker feeds."
    )
    commands = parser.add_subparsers(dest="feed_command", metavar="FEED", required=True)
    sim = commands.add_parser(
        "simulate",
        help="publish random-walk balance and trade ticks for N accounts to Kafka",
        description=(
            "Publish account events, then balance and trade ticks at --rate per second for "
            "--accounts simulated accounts (a seeded random walk; one account in four drifts "
            "into a rule: daily loss, total loss, trailing drawdown, loss per trade, "
            "overtrading, tilt). The traders obey the status topic: a failed account stops, "
            "a locked one sits out until the next trading day. Runs until --duration, "
            "--events, Ctrl-C, or every account failed."
        ),
    )
    sim.add_argument("--accounts", type=int, default=100, help="simulated accounts (100)")
    sim.add_argument("--rate", type=float, default=100.0, help="ticks per second (100)")
    sim.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    sim.add_argument("--events", type=int, default=None, help="stop after this many ticks")
    sim.add_argument("--seed", type=int, default=1, help="random seed (1): same seed, same feed")
    sim.add_argument(
        "--start",
        type=_aware_datetime,
        default=None,
        help="event time of the first tick (default: now)",
    )
    sim.add_argument(
        "--ignore-status",
        action="store_true",
        help="keep trading failed and locked accounts (do not read the status topic)",
    )
    sim.set_defaults(func=simulate)
