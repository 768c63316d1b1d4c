"""Reading contract JSONL for the commands: each bad line reported with its number, skipped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from schemas import AccountEvent, BalanceEvent, EventError, TradeEvent, parse_event


@dataclass
class ReadSummary:
    """What was read: valid events and bad lines."""

    events: int = 0
    bad_lines: int = 0


def read_events(
    lines: Iterable[str], summary: ReadSummary, errors: TextIO, prog: str
) -> Iterator[AccountEvent | BalanceEvent | TradeEvent]:
    """Parse each non-blank line; report a bad one on ``errors`` as ``prog: line N: why``."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            event = parse_event(raw, f"line {number}")
        except EventError as exc:
            summary.bad_lines += 1
            print(f"{prog}: {exc}", file=errors)
            continue
        summary.events += 1
        yield event
