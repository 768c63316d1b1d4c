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
from infra.db.sinks import PostgresSink
from infra.db.writer import DatabaseWriter
from infra.live import in_process_live
from infra.rulesets import RulesetCatalog
from infra.settings import Settings
from pipelines.inprocess import InProcessPipeline
from pipelines.sinks import database_breach_store
from schemas import AccountEvent, EventError, parse_event

log = logging.getLogger(__name__)


@dataclass
class LiveStack:
    """Everything ``aetheris demo`` runs, started and stopped together."""

    settings: Settings
    database: Database
    accounts: int
    rate: float
    seed: int = 7
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

    def account_events(self) -> list[AccountEvent]:
        """The simulated accounts' registrations (what the feed publishes first)."""
        desk = SimulatedDesk(
            self.accounts, seed=self.seed, start=datetime.now(UTC), tick_interval=timedelta(1)
        )
        events = [to_event(account) for account in desk.accounts()]
        return [event for event in events if isinstance(event, AccountEvent)]

    def start(self) -> None:
        self.pipeline.start()
        for target, name in ((self._archive, "archiver"), (self._feed, "feed")):
            thread = threading.Thread(target=target, name=f"aetheris-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(10)
        self.pipeline.stop()

    def _feed(self) -> None:
        desk = SimulatedDesk(
            self.accounts,
            seed=self.seed,
            start=datetime.now(UTC),
            tick_interval=timedelta(seconds=1 / self.rate),
        )
        report = run_feed(
            desk,
            EventPublisher(self.bus.publisher(), self.topics),
            rate=self.rate,
            stop=self.stop_event,
            statuses=None if self.topics.status is None else self.bus.reader(self.topics.status),
        )
        log.info(report.line())

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
                    writer.write([event])
                writer.flush()
        finally:
            writer.flush()
            reader.close()
