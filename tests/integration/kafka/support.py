"""Helpers of the Kafka tests: publishing lines, reading a topic to its end, processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from infra.bus import BusMessage, Publisher
from infra.bus.kafka import KafkaBus
from infra.rulesets import RulesetCatalog
from risk_engine import AccountState, apply
from schemas import EventError, parse_event

REPO = Path(__file__).resolve().parents[3]


def publish(publisher: Publisher, topic: str, lines: Sequence[str]) -> None:
    for line in lines:
        try:
            key = parse_event(line, "test").account_id
        except EventError:
            key = "bad"
        publisher.publish(topic, key, line.encode("utf-8"))
    publisher.flush()


def read_topic(
    kafka: KafkaBus, topic: str, *, at_least: int, timeout: float = 60.0, quiet: float = 1.0
) -> list[BusMessage]:
    """Every message of ``topic``: read until ``at_least`` arrived and ``quiet`` seconds
    passed without more (or ``timeout``)."""
    reader = kafka.reader(topic)
    messages: list[BusMessage] = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = reader.read(10_000, 0.2)
            if batch:
                messages.extend(batch)
                last = time.monotonic()
            elif len(messages) >= at_least and time.monotonic() - last >= quiet:
                break
    finally:
        reader.close()
    return messages


def aetheris(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``aetheris ARGS`` as a separate process, output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "aetheris.cli", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def through_engine(messages: Sequence[BusMessage]) -> dict[str, AccountState]:
    """Apply published messages to the risk engine as the pipeline would: each account's
    state at the end (its ``duplicate_trades`` says whether a trade came twice)."""
    catalog = RulesetCatalog()
    states: dict[str, AccountState] = {}
    for message in messages:
        event = parse_event((message.value or b"").decode("utf-8"), "test")
        state, _ = apply(states.get(event.account_id), event, catalog)
        states[event.account_id] = state
    return states
