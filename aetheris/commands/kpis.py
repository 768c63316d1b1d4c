"""``aetheris kpis FILE|- [--account ID] [--format json|table]``: a journal's KPIs.

Reads contract events (account, balance, trade), computes every KPI per account
(see docs/kpis.md) and prints them as JSON (sorted keys) or as readable tables.
Bad lines are reported on stderr with their line number and skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aetheris.commands.jsonl import ReadSummary, read_events
from schemas.events import AccountEvent, BalanceEvent, TradeEvent

if TYPE_CHECKING:
    from risk_engine.metrics import KpiResult

EXIT_BAD_INPUT = 2
PROG = "aetheris kpis"


def build_report(
    events: Iterable[AccountEvent | BalanceEvent | TradeEvent],
    *,
    account: str | None,
    combined: bool,
    risk_free_rate: float,
    periods_per_year: int,
    timezone: str,
    day_start: time = time(0, 0),
) -> tuple[dict[str, Any], str]:
    """The KPI report (``accounts``, and ``combined`` when asked) and a one-line summary."""
    from risk_engine.metrics import (  # noqa: PLC0415 - keeps `aetheris --help` light
        KpiConfig,
        compute_kpis,
        compute_kpis_by_account,
        journal_from_events,
    )

    config = KpiConfig(
        risk_free_rate=risk_free_rate,
        periods_per_year=periods_per_year,
        timezone=timezone,
        day_start=day_start,
    )
    journal, counts = journal_from_events(events)
    if account is not None:
        if account not in journal.account_ids:
            raise LookupError(f"no events for account {account!r} in the file")
        journal = journal.for_accounts([account])
    report: dict[str, Any] = {"accounts": compute_kpis_by_account(journal, config)}
    if combined:
        report["combined"] = compute_kpis(journal, config)
    summary = (
        f"kpis: {counts.closed_trades} closed trades, {counts.open_trades} open trades "
        f"skipped, {counts.duplicate_trades} duplicate trades skipped, "
        f"{counts.balances} balance snapshots, {len(report['accounts'])} accounts"
    )
    return report, summary


def _day_start(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time of day HH:MM: {text!r}") from None


def render_json(report: dict[str, Any]) -> str:
    """Stable JSON: sorted keys, no NaN or bare infinity (a bug if one ever got this far)."""
    return json.dumps(report, sort_keys=True, indent=2, allow_nan=False)


def _format_value(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str | bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if unit.startswith("fraction") or unit == "probability":
        return f"{value * 100:,.2f} %"
    if unit.startswith("money") or unit == "lots/units":
        return f"{value:,.2f}"
    if unit in ("seconds", "days"):
        return f"{value:,.2f}"
    return f"{value:,.4f}"


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    for row in rows:
        cells = [
            cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def render_table(name: str, result: KpiResult) -> str:
    """One result as readable tables: every scalar KPI, then the breakdowns."""
    from risk_engine.metrics import SECTIONS  # noqa: PLC0415 - keeps `aetheris --help` light

    currency = result.get("currency") or ""
    lines = [f"== {name} {currency}".rstrip() + " =="]
    lines.append(f"starting balance: {_format_value(result.get('starting_balance'), 'money')}")
    for section, kpis in SECTIONS.items():
        values = result[section]
        rows = [[key, _format_value(values[key], unit), unit] for key, unit, _ in kpis]
        lines.append("")
        lines.extend(_table(rows, [section, "value", "unit"]))
    for breakdown, rows_json in result["breakdowns"].items():
        rows = [
            [
                str(row["key"]),
                _format_value(row["trades"], "count"),
                _format_value(row["win_rate"], "fraction"),
                _format_value(row["net_pnl"], "money"),
                _format_value(row["profit_factor"], "ratio"),
                _format_value(row["expectancy"], "money"),
            ]
            for row in rows_json
        ]
        lines.append("")
        lines.extend(
            _table(rows, [breakdown, "trades", "win rate", "net pnl", "profit f.", "expectancy"])
        )
    calendar = result["calendar"]
    lines.append("")
    lines.append(
        f"calendar: {len(calendar)} trading days; the daily cells and the equity curve "
        "are in --format json"
    )
    return "\n".join(lines)


def _open(source: str) -> IO[str]:
    if source == "-":
        return sys.stdin
    return Path(source).open(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    source: str = args.file
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"{PROG}: unknown time zone {args.timezone!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        stream = _open(source)
    except OSError as exc:
        print(f"{PROG}: cannot open {source}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    read = ReadSummary()
    try:
        with stream:
            events = list(read_events(stream, read, sys.stderr, PROG))
    except UnicodeDecodeError as exc:
        print(f"{PROG}: {source} is not UTF-8 text ({exc.reason})", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        report, summary = build_report(
            events,
            account=args.account,
            combined=args.combined,
            risk_free_rate=args.risk_free_rate,
            periods_per_year=args.periods_per_year,
            timezone=args.timezone,
            day_start=args.day_start,
        )
    except (LookupError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        sys.stdout.write(render_json(report) + "\n")
    else:
        blocks = [render_table(name, result) for name, result in report["accounts"].items()]
        if "combined" in report:
            blocks.append(render_table("all accounts combined", report["combined"]))
        sys.stdout.write("\n\n".join(blocks) + "\n")
    sys.stdout.flush()
    print(f"{summary}; {read.events} events read, {read.bad_lines} bad lines", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kpis",
        help="trading-journal KPIs of a contract JSONL file, per account",
        description=(
            "Read account/balance/trade events (JSONL, one per line) from FILE or '-' "
            "(stdin) and print every KPI per account: execution, risk, daily returns, "
            "robustness, temporal, MFE/MAE, breakdowns, the daily P&L calendar and the "
            "equity curve. Keys and formulas: docs/kpis.md. Bad lines are reported on "
            "stderr with their line number and skipped."
        ),
    )
    parser.add_argument("file", metavar="FILE|-", help="JSONL events file, or - for stdin")
    parser.add_argument("--account", metavar="ID", help="only this account")
    parser.add_argument(
        "--format", choices=("json", "table"), default="json", help="output format (json)"
    )
    parser.add_argument(
        "--combined",
        action="store_true",
        help="also compute all (selected) accounts together as one book",
    )
    parser.add_argument(
        "--risk-free-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="annual risk-free rate for Sharpe and Sortino, e.g. 0.04 (default 0)",
    )
    parser.add_argument(
        "--periods-per-year",
        type=int,
        default=252,
        metavar="N",
        help="trading days per year for annualisation (default 252)",
    )
    parser.add_argument(
        "--timezone",
        default="UTC",
        metavar="TZ",
        help="IANA time zone of the calendar day, weekday, hour and month (default UTC)",
    )
    parser.add_argument(
        "--day-start",
        type=_day_start,
        default=time(0, 0),
        metavar="HH:MM",
        help="when the trading day turns on that clock, as in the account's rule set "
        "(17:00 for Topstep with --timezone America/Chicago; default 00:00)",
    )
    parser.set_defaults(func=run)
