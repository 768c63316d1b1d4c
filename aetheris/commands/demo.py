"""``aetheris demo``: the whole pipeline on embedded defaults, with the API and dashboard.

Simulated brokers publish to the in-process bus, the Armor dataflow runs in this process,
results land in PostgreSQL (embedded under ``.aetheris/`` unless ``DATABASE_URL`` is set;
the demo stops an embedded server it started when it exits, unless ``--keep-database``),
and the API serves the dashboard on http://127.0.0.1:8000. ``--replay FILE`` instead runs
a JSONL file through the engine and prints what it caught.
"""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from infra.rulesets import RulesetCatalog
from risk_engine import Armor, snapshot
from schemas import parse_event

if TYPE_CHECKING:
    from infra.db.database import Database
    from infra.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-week.jsonl"
LEVEL_NAMES = {1: "WARNING", 2: "DANGER ", 3: "BREACH "}


def run(args: argparse.Namespace) -> int:
    if args.replay is not None:
        return replay(Path(args.replay))
    return live(args)


def live(args: argparse.Namespace) -> int:
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.db.embedded import running_embedded, stop_embedded  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    where = "DATABASE_URL" if settings.database_url else f"embedded, under {settings.data_dir}/"
    # The demo stops an embedded server it started; one already running (`aetheris db
    # start`, another demo) is someone else's and keeps running.
    starts_server = settings.database_url is None and running_embedded(settings.data_dir) is None
    print(f"AETHERIS demo: starting PostgreSQL ({where})...", flush=True)
    try:
        _serve(args, settings, open_database(settings))
    finally:
        if starts_server and not args.keep_database:
            if stop_embedded(settings.data_dir):
                print("AETHERIS demo: stopped the embedded PostgreSQL.", flush=True)
        elif starts_server:
            print(
                f"AETHERIS demo: the embedded PostgreSQL keeps running under "
                f"{settings.data_dir}/ (`aetheris db stop` stops it).",
                flush=True,
            )
    return 0


DEMO_EMAIL = "demo@aetheris.local"


def _serve(args: argparse.Namespace, settings: Settings, database: Database) -> None:
    import secrets  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from aetheris.apiwiring import (  # noqa: PLC0415
        ApiSecrets,
        BusEventSink,
        build_services,
        realtime_limits,
    )
    from aetheris.kpi_snapshots import KpiSnapshotJob  # noqa: PLC0415
    from aetheris.live import LiveStack  # noqa: PLC0415
    from aetheris.notify import notify_worker  # noqa: PLC0415
    from api.app import create_app  # noqa: PLC0415
    from api.realtime import RealtimeHub  # noqa: PLC0415
    from api.security import AccessTokens, Passwords  # noqa: PLC0415
    from infra.db.accounts import PostgresAccounts  # noqa: PLC0415
    from infra.db.users import PostgresUsers  # noqa: PLC0415
    from infra.kpi_cache import MemoryKpiCache  # noqa: PLC0415
    from infra.live.feed import InMemoryFeed  # noqa: PLC0415
    from infra.live.tickets import InMemoryRevocations, InMemoryTickets  # noqa: PLC0415
    from infra.notify.cipher import KeyBoxCipher  # noqa: PLC0415
    from infra.ratelimit import RateLimiter  # noqa: PLC0415
    from infra.secrets import SecretBox, new_key, parse_keys  # noqa: PLC0415
    from infra.standings import TwinStandings  # noqa: PLC0415

    with database:
        stack = LiveStack(settings, database, accounts=args.accounts, rate=args.rate)
        # Embedded defaults: a signing key and an encryption key for this run unless set.
        key = settings.secret_key.get_secret_value() if settings.secret_key else None
        keys = parse_keys(settings.encryption_keys) if settings.encryption_keys else [new_key()]
        checked = ApiSecrets(
            tokens=AccessTokens(
                key or secrets.token_urlsafe(48),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                lifetime=timedelta(minutes=settings.access_token_minutes),
            ),
            cipher=SecretBox(keys),
        )
        passwords = Passwords()
        password = secrets.token_urlsafe(12)
        users = PostgresUsers(database.pool)
        user = users.by_email(DEMO_EMAIL) or users.create(DEMO_EMAIL, passwords.hash(password))
        assert user is not None
        users.set_password_hash(user.id, passwords.hash(password), changed=True)
        users.disable_totp(user.id)
        PostgresAccounts(database.pool).claim(user.id, stack.account_events())
        stack.start()
        # The notify worker (webhooks, e-mail) and the daily KPI snapshot job, in-process.
        background = threading.Event()
        worker = notify_worker(
            settings,
            database.pool,
            stack.bus,
            cipher=KeyBoxCipher(checked.cipher),
            consumer=f"demo-{secrets.token_hex(6)}",
        )
        worker.open_reader(from_beginning=True)
        helpers = [
            threading.Thread(target=worker.run, args=(background,), name="notify", daemon=True),
            threading.Thread(
                target=KpiSnapshotJob(database.pool).run,
                args=(background, settings.kpi_snapshot_seconds or 60.0),
                name="kpi-snapshots",
                daemon=True,
            ),
        ]
        for helper in helpers:
            helper.start()
        sink = BusEventSink(stack.bus, stack.topics)
        # The production API's live side on the in-process twin of Redis: same messages,
        # same WebSocket protocol (tickets, snapshots, 1013 for a client that lags).
        feed = InMemoryFeed(stack.live)
        services = build_services(
            settings,
            database.pool,
            standings=TwinStandings(stack.live),
            events=sink,
            limiter=RateLimiter.memory(),
            realtime=RealtimeHub(feed, realtime_limits(settings)),
            tickets=InMemoryTickets(settings.ws_ticket_seconds),
            revocations=InMemoryRevocations(feed),
            secrets=checked,
            passwords=passwords,
            extra_origins=(f"http://{args.host}:{args.port}",),
            kpi_cache=MemoryKpiCache() if settings.kpi_cache_seconds > 0 else None,
        )
        app = create_app(services)
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
        print(f"AETHERIS demo: login: {DEMO_EMAIL} password: {password}", flush=True)
        try:
            server.run()
        finally:
            background.set()
            for helper in helpers:
                helper.join(timeout=10)
            worker.close()
            stack.stop()
            print("AETHERIS demo: stopped.", flush=True)


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
        "--keep-database",
        action="store_true",
        help="leave the embedded PostgreSQL running at exit when the demo started it",
    )
    parser.add_argument(
        "--replay",
        metavar="FILE",
        nargs="?",
        const=str(SAMPLE),
        default=None,
        help="instead, replay a JSONL file (default: the bundled sample week) and print it",
    )
    parser.set_defaults(func=run)
