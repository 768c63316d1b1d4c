"""``aetheris replay [--strict] FILE|-``: run contract JSONL events through the risk engine.

Breaches and account status changes go to stdout as JSONL in event order; bad lines and
the summary go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from infra.rulesets import RulesetCatalog
from risk_engine import Armor, UnknownAccountError
from schemas import BreachEvent, EventError, OutputEvent, event_json, parse_event
from schemas.rulesets import RulesetError

EXIT_BAD_INPUT = 2


@dataclass
class ReplaySummary:
    """What a replay read and produced."""

    events: int = 0
    bad_lines: int = 0
    breaches: int = 0
    accounts: int = 0
    status_changes: int = 0

    def line(self) -> str:
        return (
            f"replay: {self.events} events read, {self.bad_lines} bad lines, "
            f"{self.breaches} breaches, {self.status_changes} status changes, "
            f"{self.accounts} accounts"
        )


class BadLine(Exception):
    """A line that could not be applied; carries the message for stderr."""


def replay_lines(
    lines: Iterable[str], armor: Armor, summary: ReplaySummary, strict: bool, errors: TextIO
) -> Iterator[OutputEvent]:
    """Apply each JSONL line in order and yield the breaches and status changes; report
    bad lines on ``errors``."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            event = parse_event(raw, where)
            outputs = armor.process_all(event)
        except EventError as exc:
            message = str(exc)
        except (UnknownAccountError, RulesetError) as exc:
            message = f"{where}: {exc}"
        else:
            summary.events += 1
            breaches = sum(1 for item in outputs if isinstance(item, BreachEvent))
            summary.breaches += breaches
            summary.status_changes += len(outputs) - breaches
            yield from outputs
            continue
        summary.bad_lines += 1
        print(f"aetheris replay: {message}", file=errors)
        if strict:
            raise BadLine(message)


def run(args: argparse.Namespace) -> int:
    source: str = args.file
    if source == "-":
        stream: IO[str] = sys.stdin
        search_dirs: tuple[Path, ...] = (Path.cwd(),)
    else:
        path = Path(source)
        try:
            stream = path.open(encoding="utf-8")
        except OSError as exc:
            print(f"aetheris replay: cannot open {source}: {exc.strerror}", file=sys.stderr)
            return EXIT_BAD_INPUT
        search_dirs = (path.resolve().parent, Path.cwd())
    armor = Armor(RulesetCatalog(search_dirs))
    summary = ReplaySummary()
    out = sys.stdout
    status = 0
    try:
        with stream:
            for output in replay_lines(stream, armor, summary, args.strict, sys.stderr):
                out.write(event_json(output))
                out.write("\n")
    except BadLine:
        status = EXIT_BAD_INPUT
    except UnicodeDecodeError as exc:
        print(f"aetheris replay: {source} is not UTF-8 text ({exc.reason})", file=sys.stderr)
        status = EXIT_BAD_INPUT
    out.flush()
    summary.accounts = len(armor.accounts)
    print(summary.line(), file=sys.stderr)
    return status


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay contract JSONL events through the risk engine; breaches and status to stdout",
        description=(
            "Read account/balance/trade events (JSONL, one per line) from FILE or '-' "
            "(stdin), apply them in order, and write breach and status events as JSONL to stdout. "
            "Bad lines are reported on stderr with their line number and skipped."
        ),
    )
    parser.add_argument("file", metavar="FILE|-", help="JSONL events file, or - for stdin")
    parser.add_argument(
        "--strict", action="store_true", help="stop with exit code 2 at the first bad line"
    )
    parser.set_defaults(func=run)
