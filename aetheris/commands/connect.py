"""``aetheris connect fix|rest``: live broker connectors publishing to Kafka.

``fix`` runs a FIX 4.4 drop-copy initiator session; ``rest --broker oanda`` polls the
OANDA v20 REST API. Both keep their state under the data dir and write a sync log row
per run to the database (``--no-sync-log`` keeps it in memory).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from aetheris.commands.kafka_settings import kafka_settings
from infra.settings import Settings

if TYPE_CHECKING:
    from connectors.synclog import SyncLogWriter
    from infra.db.database import Database
    from schemas import AccountEvent

EXIT_FAILED = 1
EXIT_USAGE = 2

_log = logging.getLogger("aetheris.connect")


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def _stop_on_signals(stop: threading.Event, duration: float | None) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    if duration is not None:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()


def _read_secret_file(path: Path | None, what: str) -> str | None:
    """The first line of a secret file, or ``None``; the error never shows the content."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not text:
        raise ValueError(f"the {what} file {path} is empty")
    return text.splitlines()[0].strip()


def _sync_log_writer(settings: Settings, enabled: bool) -> tuple[SyncLogWriter, Database | None]:
    from connectors.synclog import MemorySyncLogWriter, PostgresSyncLogWriter  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.db.retry import RetryPolicy  # noqa: PLC0415
    from infra.db.synclog import SyncLogStore  # noqa: PLC0415

    if not enabled:
        return MemorySyncLogWriter(), None
    database = open_database(settings, name="aetheris-connect")
    # A short retry: a sync log must not hold up the FIX session's thread for long.
    store = SyncLogStore(database.pool, RetryPolicy(attempts=3, first_delay=0.1))
    return PostgresSyncLogWriter(store), database


def _stored_token(settings: Settings, connection_id: str, account_id: str) -> str:
    """The API token of the account's stored REST connection, decrypted here (never shown)."""
    from uuid import UUID  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    from infra.db.brokers import PostgresBrokerConnections  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.secrets import SecretBox, parse_keys  # noqa: PLC0415

    try:
        wanted = UUID(connection_id)
    except ValueError:
        raise ValueError(f"--connection {connection_id!r} is not a connection id") from None
    box = SecretBox(parse_keys(settings.encryption_keys))
    try:
        with open_database(settings, name="aetheris-connect") as database:
            stored = PostgresBrokerConnections(database.pool, box).with_credentials(wanted)
    except (psycopg.Error, OSError) as exc:
        raise ValueError(f"cannot read the stored connection: {type(exc).__name__}") from None
    if stored is None or stored.view.account_id != account_id or stored.view.kind != "rest":
        raise ValueError(f"account {account_id!r} has no stored REST connection {connection_id}")
    token = stored.credentials.get("api_token")
    if not token:
        raise ValueError(f"the stored connection {connection_id} has no api_token")
    return token


def _account_event(args: argparse.Namespace) -> AccountEvent | None:
    from schemas import AccountEvent  # noqa: PLC0415

    if args.ruleset is None:
        return None
    return AccountEvent(
        account_id=args.account,
        ruleset=args.ruleset,
        initial_balance=args.initial_balance,
        currency=args.currency,
    )


def fix_command(args: argparse.Namespace) -> int:
    from connectors.fix.book import DropCopyBook  # noqa: PLC0415
    from connectors.fix.connector import (  # noqa: PLC0415
        DropCopyHandler,
        FixSessionConfig,
        run_drop_copy,
    )
    from connectors.instruments import InstrumentError, load_instruments  # noqa: PLC0415
    from connectors.statefile import JsonStateFile, StateFileError, file_name  # noqa: PLC0415
    from infra.bus import BusError, EventPublisher, Topics, open_bus  # noqa: PLC0415

    settings = kafka_settings(
        "aetheris connect fix", "a live connector publishes to the pipeline's Kafka topic"
    )
    if settings is None:
        return EXIT_USAGE
    _configure_logging()
    try:
        instruments = load_instruments(args.instruments)
        password = _read_secret_file(args.password_file, "FIX password")
        if password is None and settings.fix_password is not None:
            password = settings.fix_password.get_secret_value()
        config = FixSessionConfig(
            host=args.host,
            port=args.port,
            sender_comp_id=args.sender_comp_id,
            target_comp_id=args.target_comp_id,
            data_dir=args.data_dir or settings.data_dir,
            heartbeat_seconds=args.heartbeat,
            reconnect_seconds=args.reconnect,
            username=args.username,
            password=password,
            session_start=args.session_start,
            session_end=args.session_end,
            reset_on_logon=args.reset_on_logon,
        )
        config.quickfix_settings()  # checks the ids before anything starts
        account = _account_event(args)
    except (InstrumentError, ValueError) as exc:
        print(f"aetheris connect fix: {exc}", file=sys.stderr)
        return EXIT_USAGE
    topics = Topics.from_settings(settings)
    bus = open_bus(settings)
    sync_log, database = _sync_log_writer(settings, args.sync_log)
    stop = threading.Event()
    _stop_on_signals(stop, args.duration)
    try:
        bus.partition_count(topics.events)
        book = DropCopyBook(
            args.account,
            currency=args.currency,
            initial_balance=args.initial_balance,
            instruments=instruments,
        )
        handler = DropCopyHandler(
            book,
            EventPublisher(bus.publisher(), topics),
            JsonStateFile(config.session_dir / f"book-{file_name(args.account)}.json"),
            sync_log,
            source=f"fix:{args.sender_comp_id}-{args.target_comp_id}",
            fix_account=args.fix_account,
        )
        run_drop_copy(config, handler, stop, account=account)
    except (BusError, StateFileError, ValueError) as exc:
        print(f"aetheris connect fix: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if database is not None:
            database.close()
    return 0


def rest_command(args: argparse.Namespace) -> int:
    from connectors.oanda.client import OandaClient  # noqa: PLC0415
    from connectors.oanda.connector import Backoff, OandaPoller  # noqa: PLC0415
    from connectors.oanda.parse import OandaBook  # noqa: PLC0415
    from connectors.statefile import JsonStateFile, StateFileError, file_name  # noqa: PLC0415
    from infra.bus import BusError, EventPublisher, Topics, open_bus  # noqa: PLC0415

    settings = kafka_settings(
        "aetheris connect rest", "a live connector publishes to the pipeline's Kafka topic"
    )
    if settings is None:
        return EXIT_USAGE
    _configure_logging()
    try:
        token = _read_secret_file(args.token_file, "API token")
        if token is None and args.connection is not None:
            token = _stored_token(settings, args.connection, args.account)
        if token is None and settings.oanda_api_token is not None:
            token = settings.oanda_api_token.get_secret_value()
        if token is None:
            raise ValueError("no API token: give --token-file or set AETHERIS_OANDA_API_TOKEN")
        if args.ruleset is not None and args.initial_balance is None:
            raise ValueError("--ruleset needs --initial-balance to register the account")
        client = OandaClient(
            args.api_url or settings.oanda_api_url,
            args.broker_account,
            token,
            timeout=args.timeout,
        )
        account = _account_event(args)
    except ValueError as exc:
        print(f"aetheris connect rest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    data_dir = args.data_dir or settings.data_dir
    state = JsonStateFile(
        data_dir / "oanda" / f"{file_name(args.broker_account, args.account)}.json"
    )
    topics = Topics.from_settings(settings)
    bus = open_bus(settings)
    sync_log, database = _sync_log_writer(settings, args.sync_log)
    stop = threading.Event()
    _stop_on_signals(stop, args.duration)
    try:
        bus.partition_count(topics.events)
        poller = OandaPoller(
            client,
            OandaBook(args.account),
            EventPublisher(bus.publisher(), topics),
            state,
            sync_log,
            source=f"rest:oanda:{args.broker_account}",
            since_transaction_id=args.since_transaction_id,
            currency=args.currency,
        )
        report = poller.run(
            interval=args.interval,
            backoff=Backoff(first=1.0, cap=args.backoff_cap, max_attempts=args.max_attempts),
            wait=stop.wait,
            account=account,
        )
    except (BusError, StateFileError, ValueError) as exc:
        print(f"aetheris connect rest: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.close()
        if database is not None:
            database.close()
    if report.gave_up is not None:
        print(f"aetheris connect rest: gave up: {report.gave_up}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _add_account_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", required=True, help="the AETHERIS account id of the trades")
    parser.add_argument(
        "--ruleset",
        default=None,
        help="register the account with this ruleset first (an account event)",
    )
    parser.add_argument("--currency", default="USD", help="the account's currency (USD)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the connector keeps its state (default: AETHERIS_DATA_DIR)",
    )
    parser.add_argument(
        "--duration", type=_positive_float, default=None, help="stop after this many seconds"
    )
    parser.add_argument(
        "--no-sync-log",
        dest="sync_log",
        action="store_false",
        help="do not write sync log rows to the database",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "connect",
        help="live broker connectors (FIX drop-copy, REST polling)",
        description="Live broker connectors that publish trades and balances to Kafka.",
    )
    commands = parser.add_subparsers(dest="connect_command", metavar="KIND", required=True)
    fix = commands.add_parser(
        "fix",
        help="a FIX 4.4 drop-copy session: execution reports → trades and balance",
        description=(
            "Log on to a FIX 4.4 drop-copy acceptor as an initiator and turn its "
            "ExecutionReports into trade and balance events (docs/connectors.md). The FIX "
            "password comes from --password-file or AETHERIS_FIX_PASSWORD."
        ),
    )
    fix.add_argument("--host", required=True, help="the acceptor's host")
    fix.add_argument("--port", type=int, required=True, help="the acceptor's port")
    fix.add_argument("--sender-comp-id", required=True, help="our SenderCompID (49)")
    fix.add_argument("--target-comp-id", required=True, help="the broker's TargetCompID (56)")
    fix.add_argument(
        "--initial-balance",
        type=_positive_float,
        required=True,
        help="the account's balance before the first fill (balance = this + realised P&L)",
    )
    fix.add_argument("--username", default=None, help="Username (553) sent in the Logon")
    fix.add_argument(
        "--password-file", type=Path, default=None, help="a file holding the Password (554)"
    )
    fix.add_argument(
        "--fix-account",
        default=None,
        help="take only ExecutionReports whose Account (tag 1) is this (default: all)",
    )
    fix.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt in seconds (30)")
    fix.add_argument(
        "--reconnect", type=int, default=5, help="seconds between reconnect attempts (5)"
    )
    fix.add_argument(
        "--session-start",
        default="00:00:00",
        help="the daily FIX session's start, UTC HH:MM:SS (00:00:00); sequence numbers "
        "reset when a session begins",
    )
    fix.add_argument(
        "--session-end",
        default="00:00:00",
        help="its end, UTC HH:MM:SS (00:00:00; equal to the start: 24 hours)",
    )
    fix.add_argument(
        "--reset-on-logon",
        action="store_true",
        help="ask for sequence number 1 at every logon (ResetSeqNumFlag=Y)",
    )
    fix.add_argument(
        "--instruments",
        type=Path,
        default=None,
        help="an instrument table JSON file (default: the built-in table)",
    )
    _add_account_options(fix)
    fix.set_defaults(func=fix_command)

    rest = commands.add_parser(
        "rest",
        help="poll a broker's REST API: balance and equity, fills → trades",
        description=(
            "Poll a broker's REST API (OANDA v20): the account summary's balance and NAV "
            "every --interval seconds, and the transactions since the last one seen "
            "(ORDER_FILL → trades, TRANSFER_FUNDS → balance). The API token comes from "
            "--token-file, a stored connection (--connection) or AETHERIS_OANDA_API_TOKEN and "
            "is never logged."
        ),
    )
    rest.add_argument("--broker", choices=["oanda"], required=True, help="the broker's API")
    rest.add_argument("--broker-account", required=True, help="the broker's account id (101-004-…)")
    rest.add_argument(
        "--api-url",
        default=None,
        help="the API's base URL (default: AETHERIS_OANDA_API_URL, the practice server)",
    )
    rest.add_argument("--token-file", type=Path, default=None, help="a file holding the token")
    rest.add_argument(
        "--connection",
        default=None,
        metavar="ID",
        help="take the token from this stored REST connection of --account (POST "
        "/api/v1/accounts/{id}/brokers; decrypted with AETHERIS_ENCRYPTION_KEYS)",
    )
    rest.add_argument(
        "--initial-balance",
        type=_positive_float,
        default=None,
        help="with --ruleset: the initial balance of the account registered",
    )
    rest.add_argument(
        "--interval", type=_positive_float, default=5.0, help="seconds between polls (5)"
    )
    rest.add_argument(
        "--timeout", type=_positive_float, default=10.0, help="seconds per request (10)"
    )
    rest.add_argument(
        "--max-attempts",
        type=int,
        default=8,
        help="failed requests in a row before giving up (8)",
    )
    rest.add_argument(
        "--backoff-cap",
        type=_positive_float,
        default=60.0,
        help="the longest wait between retries, in seconds (60)",
    )
    rest.add_argument(
        "--since-transaction-id",
        type=int,
        default=None,
        help="on the first start, read the transactions after this id "
        "(default: only new ones); later starts resume from the saved id",
    )
    _add_account_options(rest)
    rest.set_defaults(func=rest_command)
