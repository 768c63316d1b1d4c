"""``aetheris demo``: the whole pipeline on embedded defaults, with the API and dashboard.

Simulated brokers publish to the in-process bus, the Armor dataflow runs in this process,
results land in PostgreSQL (embedded under ``.aetheris/`` unless ``DATABASE_URL`` is set),
and the API serves the dashboard on http://127.0.0.1:8000. ``--replay FILE`` instead runs
a JSONL file through the engine and prints what it caught.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from infra.rulesets import RulesetCatalog
from risk_engine import Armor, snapshot
from schemas import parse_event

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-week.jsonl"
LEVEL_NAMES = {1: "WARNING", 2: "DANGER ", 3: "BREACH "}


def run(args: argparse.Namespace) -> int:
    if args.replay is not None:
        return replay(Path(args.replay))
    return live(args)


def live(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from aetheris.live import LiveStack  # noqa: PLC0415
    from api.app import create_app  # noqa: PLC0415
    from api.history import DatabaseHistory  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    where = "DATABASE_URL" if settings.database_url else f"embedded, under {settings.data_dir}/"
    print(f"AETHERIS demo: starting PostgreSQL ({where})...", flush=True)
    with open_database(settings) as database:
        stack = LiveStack(settings, database, accounts=args.accounts, rate=args.rate)
        stack.start()
        app = create_app(stack.board, DatabaseHistory(database.pool), stack.hub)
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
        server = uvicorn.Server(config)
        if args.duration is not None:
            timer = threading.Timer(args.duration, lambda: setattr(server, "should_exit", True))
            timer.daemon = True
            timer.start()
        print(
            f"AETHERIS demo: {args.accounts} simulated accounts at {args.rate:g} ticks/s; "
            f"dashboard on http://{args.host}:{args.port}  (Ctrl-C stops)",
            flush=True,
        )
        try:
            server.run()
        finally:
            stack.stop()
            print(
                f"AETHERIS demo: stopped; {len(stack.hub.recent())} recent breaches shown.",
                flush=True,
            )
    return 0


def replay(path: Path) -> int:
    armor = Armor(RulesetCatalog((path.parent, Path.cwd())))
    print(f"AETHERIS demo: replaying {path} through the Armor risk engine\n")
    with path.open(encoding="utf-8") as events:
        for number, line in enumerate(events, start=1):
            event = parse_event(line, f"{path.name} line {number}")
            for breach in armor.process(event):
                print(
                    f"{breach.ts:%a %d %b %H:%M}Z  {LEVEL_NAMES[breach.level]}  "
                    f"{breach.account_id:<13} {breach.rule:<19} {breach.message}"
                )
    print("\nAccount standings at the end of the replay:")
    header = (
        f"{'account':<13} {'ruleset':<18} {'balance':>11} {'equity':>11}  rules (used % / level)"
    )
    print(header)
    print("-" * len(header))
    for state in armor.accounts.values():
        view = snapshot(state)
        standings = ", ".join(
            f"{rule.rule} {rule.used_percent:.0f}%/L{rule.level}" for rule in view.rules
        )
        print(
            f"{view.account_id:<13} {view.ruleset:<18} {view.balance:>11,.2f} "
            f"{view.equity:>11,.2f}  {standings or '-'}"
        )
        if view.objectives is not None and view.objectives.profit_target is not None:
            print(
                f"{'':<13} target {view.objectives.profit_target:,.0f}: "
                f"{view.objectives.profit_progress_percent:.1f}% done, "
                f"{view.objectives.trading_days} trading days"
            )
    sys.stdout.flush()
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on embedded defaults with the dashboard on :8000",
        description=__doc__,
    )
    parser.add_argument("--accounts", type=int, default=24, help="simulated accounts (24)")
    parser.add_argument("--rate", type=float, default=40.0, help="ticks per second (40)")
    parser.add_argument("--host", default="127.0.0.1", help="API address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port (8000)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument(
        "--replay",
        metavar="FILE",
        nargs="?",
        const=str(SAMPLE),
        default=None,
        help="instead, replay a JSONL file (default: the bundled sample week) and print it",
    )
    parser.set_defaults(func=run)
