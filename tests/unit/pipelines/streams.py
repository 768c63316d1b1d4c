"""Event streams for pipeline tests, and what the pure engine says they cause."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from infra.bus import InProcessBus, Topics
from infra.rulesets import RulesetCatalog
from risk_engine import Armor, UnknownAccountError
from schemas import (
    AccountEvent,
    BalanceEvent,
    BreachEvent,
    EventError,
    TradeEvent,
    event_json,
    parse_event,
)
from schemas.rulesets import RulesetError

Event = AccountEvent | BalanceEvent | TradeEvent
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def account(account_id: str, ruleset: str = "ftmo-2step", initial: float = 100_000.0) -> str:
    return event_json(
        AccountEvent(
            account_id=account_id, ruleset=ruleset, initial_balance=initial, currency="USD"
        )
    )


def balance(account_id: str, ts: datetime, equity: float, bal: float = 100_000.0) -> str:
    return event_json(BalanceEvent(account_id=account_id, ts=ts, balance=bal, equity=equity))


def closed_trade(
    account_id: str, trade_id: str, entry: datetime, pnl: float, quantity: float = 1.0
) -> str:
    return event_json(
        TradeEvent(
            account_id=account_id,
            broker_trade_id=trade_id,
            status="closed",
            symbol="EURUSD",
            side="long",
            quantity=quantity,
            entry_price=1.1,
            exit_price=1.09,
            entry_time=entry,
            exit_time=entry + timedelta(minutes=2),
            pnl=pnl,
        )
    )


def breach_days(accounts: int, days: int) -> list[str]:
    """Accounts on ftmo-2step whose equity walks down through the three daily-loss levels
    every day and recovers the next: three breaches per account and day, spread evenly."""
    lines = [account(f"ACC{number:04d}") for number in range(accounts)]
    equities = (99_000.0, 96_400.0, 95_400.0, 94_900.0)
    for day in range(days):
        for step, equity in enumerate(equities):
            ts = START + timedelta(days=day, hours=step)
            lines.extend(balance(f"ACC{n:04d}", ts, equity) for n in range(accounts))
    return lines


def expected_breaches(lines: Iterable[str]) -> list[BreachEvent]:
    """What the pure engine emits for ``lines`` in order, skipping what it rejects."""
    armor = Armor(RulesetCatalog())
    out: list[BreachEvent] = []
    for number, line in enumerate(lines):
        try:
            out.extend(armor.process(parse_event(line, f"line {number}")))
        except (EventError, UnknownAccountError, RulesetError):
            continue
    return out


def publish_lines(bus: InProcessBus, topics: Topics, lines: Sequence[str]) -> None:
    """Publish JSON lines keyed by their account id (or by ``bad`` when there is none)."""
    publisher = bus.publisher()
    for line in lines:
        try:
            key = parse_event(line, "test").account_id
        except EventError:
            key = "bad"
        publisher.publish(topics.events, key, line.encode("utf-8"))


def make_bus(partitions: int = 4) -> tuple[InProcessBus, Topics]:
    bus = InProcessBus()
    topics = Topics("test.events", "test.breaches", "test.deadletter", partitions)
    bus.create_topics(topics.all(), partitions)
    return bus, topics


def read_all(bus: InProcessBus, topic: str) -> list[bytes]:
    reader = bus.reader(topic)
    values: list[bytes] = []
    while batch := reader.read(10_000, 0.0):
        values.extend(message.value or b"" for message in batch)
    return values


def by_account(breaches: Iterable[BreachEvent]) -> dict[str, list[BreachEvent]]:
    grouped: dict[str, list[BreachEvent]] = {}
    for breach in breaches:
        grouped.setdefault(breach.account_id, []).append(breach)
    return grouped
