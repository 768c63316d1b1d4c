"""The embedded stack in one process: in-process bus, simulated desk, the Armor dataflow,
PostgreSQL (embedded unless ``DATABASE_URL`` is set), and the API with its dashboard.

This module is part of the composition root: the one place that picks concrete adapters.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.simulator import SimulatedDesk, run_feed
from connectors.simulator.parse import to_event
from infra.bus import EventPublisher, InProcessBus, Topics
from infra.db.database import Database
from infra.db.history import StoredHistory, stored_history
from infra.db.sinks import PostgresSink
from infra.db.writer import DatabaseWriter
from infra.live import in_process_live
from infra.rulesets import RulesetCatalog
from infra.settings import Settings
from pipelines.inprocess import InProcessPipeline
from pipelines.sinks import database_breach_store
from risk_engine import Armor, snapshot
from schemas import AccountEvent, BalanceEvent, EventError, TradeEvent, parse_event

log = logging.getLogger(__name__)


@dataclass
class LiveStack:
    """Everything ``aetheris demo`` runs, started and stopped together."""

    settings: Settings
    database: Database
    accounts: int
    rate: float
    seed: int = 7
    # The demo's story (one account per rule first) rather than one drifter in four.
    story: bool = False
    catalog: RulesetCatalog = field(default_factory=RulesetCatalog)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.bus = InProcessBus()
        self.topics = Topics.from_settings(self.settings)
        self.bus.create_topics(self.topics.all(), self.topics.partitions)
        # The live standing on the in-process twin of Redis: what the API reads from Redis
        # in production (standings, WebSocket messages), it reads here from the twin.
        self.live = in_process_live(self.settings.redis_prefix)
        self.pipeline = InProcessPipeline(
            self.bus,
            self.topics,
            resolve=self.catalog,
            breach_stores=[database_breach_store(self.database.pool)],
            snapshot_interval_seconds=1.0,
            round_size=self.settings.pipeline_round_size,
            live=lambda: self.live,
            standing_interval_seconds=self.settings.standing_interval_ms / 1000.0,
            standings_per_second=self.settings.standings_per_second or None,
        )
        self._threads: list[threading.Thread] = []
        self.history = StoredHistory()
        self.resumed: dict[str, tuple[str, datetime | None]] = {}

    def account_events(self) -> list[AccountEvent]:
        """The simulated accounts' registrations (what the feed publishes first)."""
        desk = SimulatedDesk(
            self.accounts,
            seed=self.seed,
            start=datetime.now(UTC),
            tick_interval=timedelta(1),
            story=self.story,
        )
        events = [to_event(account) for account in desk.accounts()]
        return [event for event in events if isinstance(event, AccountEvent)]

    def start(self) -> None:
        self.pipeline.start()
        self._resume()
        for target, name in ((self._archive, "archiver"), (self._feed, "feed")):
            thread = threading.Thread(target=target, name=f"aetheris-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(10)
        self.pipeline.stop()

    def _resume(self) -> None:
        """A second run carries on from the first: the stored ticks and trades of the
        simulated accounts go through the engine again (the same events give the same
        standings, statuses and breach ids, which the database already holds), and the
        simulation continues after them from each account's last balance and status."""
        accounts = self.account_events()
        with self.database.pool.connection() as conn:
            self.history = stored_history(conn, [a.account_id for a in accounts])
        if not len(self.history):
            return
        publisher = EventPublisher(self.bus.publisher(), self.topics)
        armor = Armor(self.catalog)
        for account in accounts:
            for event in (account, *self.history.events.get(account.account_id, [])):
                publisher.publish_event(event)
                armor.process(event)
        publisher.flush()
        self.resumed = {
            account_id: (status.status, status.status_until)
            for account_id, status in ((a, snapshot(s)) for a, s in armor.accounts.items())
        }
        log.info("demo: resumed %d stored events of %d accounts", len(self.history), len(accounts))

    def _feed(self) -> None:
        start = datetime.now(UTC)
        seed = self.seed
        if self.history.last_time:
            # After the stored history, in event time, and not the same random walk again.
            last = max(self.history.last_time.values())
            start = max(start, last + timedelta(milliseconds=1))
            seed = self.seed * 1_000_003 + int(last.timestamp())
        desk = SimulatedDesk(
            self.accounts,
            seed=seed,
            start=start,
            tick_interval=timedelta(seconds=1 / self.rate),
            story=self.story,
        )
        for account_id, balance in self.history.last_balance.items():
            desk.resume(account_id, balance, self.history.last_ticket.get(account_id, 0))
        for account_id, (status, until) in self.resumed.items():
            if status in ("failed", "passed"):
                desk.retire(account_id)  # already flat: it just never trades again
            elif status == "locked":
                desk.apply_status(account_id, status, until)
        report = run_feed(
            desk,
            EventPublisher(self.bus.publisher(), self.topics),
            rate=self.rate,
            stop=self.stop_event,
            statuses=None if self.topics.status is None else self.bus.reader(self.topics.status),
        )
        log.info(report.line())

    def _stored(self, event: AccountEvent | BalanceEvent | TradeEvent) -> bool:
        """Whether the event is part of the stored history the run resumed from."""
        if isinstance(event, AccountEvent):
            return False
        last = self.history.last_time.get(event.account_id)
        return last is not None and event.event_time <= last

    def _archive(self) -> None:
        """Tail the events topic: ticks and trades to the database."""
        reader = self.bus.reader(self.topics.events)
        writer = DatabaseWriter(PostgresSink(self.database.pool))
        try:
            while not self.stop_event.is_set():
                messages = reader.read(1_000, 0.2)
                for message in messages:
                    try:
                        event = parse_event(message.value or b"", message.topic)
                    except EventError:
                        continue  # the pipeline dead-letters it with the reason
                    if not self._stored(event):
                        writer.write([event])
                writer.flush()
        finally:
            writer.flush()
            reader.close()
