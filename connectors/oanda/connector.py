"""The OANDA polling loop: transactions since the last id, then the account summary.

Each round reads ``/transactions/sinceid`` until it has caught up, turns the
transactions into events, publishes and flushes them, then saves the last transaction
id (so a restart resumes after it), then publishes the summary's balance and NAV. On a
timeout, a connection failure, a 5xx or a 429 it waits (1 s, 2 s, 4 s … capped, with
jitter; a 429's Retry-After when given) and tries again; after ``max_attempts`` failures
in a row, or at once on a refused token or an unknown account, it gives up and logs why.
A bus that fails to take the events is handled the same way, after going back to the
last saved state (what was not delivered was not applied).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.oanda.client import FatalError, OandaClient, RetryableError
from connectors.oanda.parse import OandaBook, OandaDataError
from connectors.statefile import JsonStateFile
from connectors.synclog import SyncLogWriter, SyncRun
from infra.bus import BusError, EventPublisher
from schemas import AccountEvent

_log = logging.getLogger("aetheris.connectors.oanda")


@dataclass(frozen=True)
class Backoff:
    """Delays before the n-th retry: ``first × 2ⁿ`` capped at ``cap``, then scaled into
    its upper half by ``jitter`` (a random number in [0, 1)) so that clients spread out."""

    first: float = 1.0
    cap: float = 60.0
    max_attempts: int = 8

    def delay(self, retry: int, jitter: float) -> float:
        ceiling = min(self.cap, self.first * 2.0**retry)
        return ceiling / 2 + ceiling / 2 * jitter


@dataclass(slots=True)
class PollReport:
    """How the poller ended."""

    rounds: int = 0
    gave_up: str | None = None


class OandaPoller:
    """Polls one OANDA account and publishes what changed."""

    def __init__(
        self,
        client: OandaClient,
        book: OandaBook,
        publisher: EventPublisher,
        state: JsonStateFile,
        sync_log: SyncLogWriter,
        *,
        source: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        since_transaction_id: int | None = None,
        currency: str | None = None,
    ) -> None:
        self.client = client
        self.currency = currency
        self.book = book
        self.publisher = publisher
        self.state = state
        self.sync_log = sync_log
        self.source = source
        self.clock = clock
        self._since = since_transaction_id
        saved = state.load()
        if saved is not None:
            book.restore(saved)
        elif since_transaction_id is not None:
            book.last_transaction_id = since_transaction_id

    def poll_once(self) -> SyncRun:
        """One round; raises :class:`RetryableError` or :class:`FatalError`."""
        run = SyncRun(self.source, self.book.account_id, self.clock(), format="oanda")
        try:
            if self.book.last_transaction_id is None:
                # First start without a saved id: only what happens from now on.
                self.book.last_transaction_id = int(self.client.summary().last_transaction_id)
                self._save()
            while True:
                before = self.book.last_transaction_id
                answer = self.client.transactions_since(before)
                for raw in answer.transactions:
                    self._apply(raw, run)
                self.publisher.flush()
                self._save()
                caught_up = self.book.last_transaction_id >= int(answer.last_transaction_id)
                if not answer.transactions or caught_up or self.book.last_transaction_id == before:
                    break
            summary = self.client.summary().account
            if self.currency is not None and summary.currency != self.currency:
                raise FatalError(
                    f"the OANDA account is in {summary.currency}, the AETHERIS account "
                    f"{self.book.account_id} in {self.currency}"
                )
            self.publisher.publish_event(self.book.summary_event(summary, self.clock()))
            self.publisher.flush()
            self._save()
            run.ticks += 1
        finally:
            if not run.empty:
                self.sync_log.start(run)
                self.sync_log.finish(run, self.clock())
        return run

    def _apply(self, raw: dict[str, object], run: SyncRun) -> None:
        where = f"transaction {raw.get('id')!r} ({raw.get('type')})"
        try:
            for trade_id in self.book.unknown_trades(raw):
                self.book.seed(self.client.trade(trade_id))
            outcome = self.book.apply(raw)
        except (OandaDataError, FatalError) as exc:
            run.error(where, str(exc))
            _log.warning("%s: %s skipped: %s", self.source, where, exc)
            return
        for event in outcome.events:
            self.publisher.publish_event(event)
            if event.type == "balance":
                run.ticks += 1
        run.count(outcome.kind)

    def _reload(self) -> None:
        saved = self.state.load()
        fresh = OandaBook(self.book.account_id, self._since)
        if saved is not None:
            fresh.restore(saved)
        self.book = fresh

    def _save(self) -> None:
        self.state.save(self.book.to_state())

    def run(
        self,
        *,
        interval: float,
        backoff: Backoff,
        wait: Callable[[float], bool],
        jitter: Callable[[], float] = random.random,
        account: AccountEvent | None = None,
    ) -> PollReport:
        """Poll every ``interval`` seconds until ``wait`` returns True (stop) or it gives up."""
        report = PollReport()
        if account is not None:
            self.publisher.publish_event(account)
            self.publisher.flush()
        failures = 0
        while True:
            try:
                self.poll_once()
                report.rounds += 1
                failures = 0
                pause = interval
            except FatalError as exc:
                report.gave_up = str(exc)
                _log.error("%s: giving up: %s", self.source, exc)
                return report
            except (RetryableError, BusError) as exc:
                if isinstance(exc, BusError):
                    # Not delivered, so not applied: back to the last saved state.
                    self._reload()
                failures += 1
                if failures >= backoff.max_attempts:
                    report.gave_up = f"{failures} attempts in a row failed; last: {exc}"
                    _log.error("%s: giving up: %s", self.source, report.gave_up)
                    return report
                asked = exc.retry_after if isinstance(exc, RetryableError) else None
                pause = asked if asked is not None else backoff.delay(failures - 1, jitter())
                _log.warning(
                    "%s: %s; attempt %d of %d, next in %.1f s",
                    self.source,
                    exc,
                    failures,
                    backoff.max_attempts,
                    pause,
                )
            if wait(pause):
                return report
