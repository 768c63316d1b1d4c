"""``aetheris import FILE``: a broker statement into the bus and the database.

Wires the concrete adapters (database pool, bus publisher) around
:func:`connectors.statements.importer.import_statement`; docs/imports.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
MAX_FILE_BYTES = 512 * 1024 * 1024


def _fail(message: str, as_json: bool, code: int = EXIT_BAD_INPUT) -> int:
    if as_json:
        print(json.dumps({"new": 0, "duplicates": 0, "updated": 0, "errors": [
            {"row": None, "where": "run", "reason": message}
        ], "status": "failed"}))  # fmt: skip
    print(f"aetheris import: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    import psycopg  # noqa: PLC0415

    from connectors.generic_csv.formats import GenericCsv  # noqa: PLC0415
    from connectors.generic_csv.wire import MappingError  # noqa: PLC0415
    from connectors.statements.importer import (  # noqa: PLC0415
        ImportRequest,
        Registration,
        StatementImportError,
        import_statement,
    )
    from connectors.statements.registry import FORMAT_PATHS  # noqa: PLC0415
    from connectors.statements.timezones import TimezoneError, resolve_timezone  # noqa: PLC0415
    from infra.bus import BusError, EventPublisher, Topics, open_bus  # noqa: PLC0415
    from infra.db.database import open_database  # noqa: PLC0415
    from infra.db.errors import StorageError  # noqa: PLC0415
    from infra.settings import get_settings  # noqa: PLC0415

    as_json: bool = args.json
    if args.format != "auto" and args.format not in FORMAT_PATHS:
        return _fail(
            f"unknown format {args.format!r} (known: auto, {', '.join(FORMAT_PATHS)})", as_json
        )
    if (args.ruleset is None) != (args.initial_balance is None):
        return _fail(
            "--ruleset and --initial-balance go together (to register the account)", as_json
        )
    if args.initial_balance is not None and not args.initial_balance > 0:
        return _fail("--initial-balance must be positive", as_json)
    path = Path(args.file)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return _fail(f"{path} is {size} bytes; the limit is {MAX_FILE_BYTES}", as_json)
        data = path.read_bytes()
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror}", as_json)
    try:
        zone = resolve_timezone(args.timezone) if args.timezone else None
    except TimezoneError as exc:
        return _fail(f"--timezone: {exc}", as_json)
    statement_format = None
    if args.mapping:
        mapping_path = Path(args.mapping)
        try:
            statement_format = GenericCsv.from_file(
                mapping_path.read_text(encoding="utf-8"), mapping_path.name
            )
        except OSError as exc:
            return _fail(f"cannot read {mapping_path}: {exc.strerror}", as_json)
        except MappingError as exc:
            return _fail(str(exc), as_json)
        if args.format not in ("auto", "generic-csv"):
            return _fail("--mapping is for --format generic-csv", as_json)
    registration = (
        Registration(args.ruleset, args.initial_balance, args.currency, args.name)
        if args.ruleset is not None and args.initial_balance is not None
        else None
    )
    request = ImportRequest(
        data=data,
        filename=path.name,
        account_id=args.account,
        format_name=args.format,
        timezone=zone,
        registration=registration,
        statement_format=statement_format,
    )
    settings = get_settings()
    try:
        database = open_database(settings, name="aetheris-import")
    except (StorageError, psycopg.Error) as exc:
        return _fail(f"the database: {exc}", as_json, EXIT_FAILED)
    bus = open_bus(settings)
    topics = Topics.from_settings(settings)
    try:
        if settings.kafka_bootstrap_servers:
            bus.partition_count(topics.events)
        publisher = EventPublisher(bus.publisher(), topics)
        try:
            result = import_statement(
                request, pool=database.pool, publisher=publisher, now=datetime.now(UTC)
            )
        finally:
            publisher.close()
    except StatementImportError as exc:
        return _fail(f"{exc.reason} (sync log {exc.sync_log_id})", as_json)
    except BusError as exc:
        return _fail(f"the bus: {exc}", as_json, EXIT_FAILED)
    except (StorageError, psycopg.Error) as exc:
        return _fail(f"the database: {exc}", as_json, EXIT_FAILED)
    finally:
        bus.close()
        database.close()
    if as_json:
        print(json.dumps(result.as_json()))
    else:
        print(
            f"import: {result.format} {path.name} -> {result.account_id}: {result.new} new, "
            f"{result.updated} updated, {result.duplicates} duplicates, "
            f"{len(result.errors)} errors ({result.rows} rows, {result.balance_events} "
            f"balance events; sync log {result.sync_log_id})",
            file=sys.stderr,
        )
        for error in result.errors[:50]:
            print(f"  {error.message()}", file=sys.stderr)
    return EXIT_BAD_INPUT if result.errors else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import a broker statement (MT4/MT5, cTrader, IBKR, Tradovate, CSV, …)",
        description=(
            "Read FILE in the given statement format, validate it, skip trades and cash "
            "movements already stored, publish the rest to the events topic in event-time "
            "order with the balance changes, store them and write a sync log. Bad rows are "
            "reported with their row number and skipped (exit code 2). See docs/imports.md."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the exported statement")
    parser.add_argument(
        "--format", default="auto", metavar="FORMAT",
        help="mt4-html, mt5-html, mt5-xlsx, ctrader-csv, ibkr-activity-csv, ibkr-flex-xml, "
        "tradovate-csv, ninjatrader-csv, topstepx-csv, generic-csv, or auto (default)",
    )  # fmt: skip
    parser.add_argument("--account", required=True, metavar="ID", help="the account's id")
    parser.add_argument("--ruleset", help="register the account with this rule set")
    parser.add_argument(
        "--initial-balance", type=float, metavar="AMOUNT", help="register: starting balance"
    )
    parser.add_argument("--currency", metavar="CCY", help="register: currency (default: file's)")
    parser.add_argument("--name", help="register: the account's display name")
    parser.add_argument(
        "--timezone", metavar="TZ",
        help="broker server time zone: Europe/Helsinki, UTC+3, or GMT+2/+3-US",
    )  # fmt: skip
    parser.add_argument("--mapping", metavar="FILE", help="generic-csv column mapping (TOML/JSON)")
    parser.add_argument("--json", action="store_true", help="print the sync log as one JSON object")
    parser.set_defaults(func=run)
