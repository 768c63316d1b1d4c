"""The notify worker: breaches from the bus → queued deliveries → signed webhooks and e-mail.

Two steps, each its own transaction:

* **ingest** reads the breach topic and, for every breach, queues one webhook delivery per
  endpoint of the account's owner that takes the breach's level, and (level 3) one e-mail
  to an owner who opted in; the topic offsets are saved in the same transaction, so a
  restart neither loses a breach nor queues it twice (the unique keys would drop a repeat
  anyway, e.g. when two workers read the same partition).
* **deliver** claims due deliveries (``FOR UPDATE SKIP LOCKED``, leased), sends them,
  records every attempt, and schedules a failed one again with exponential backoff and
  full jitter, until ``max_attempts`` → ``dead`` with the reason logged.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from pydantic import ValidationError

from infra.bus.port import Bus, BusMessage, Reader
from infra.db.pool import Pool
from infra.notify import metrics
from infra.notify import repository as repo
from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import SecretCipher
from infra.notify.http import WebhookHttpClient
from infra.notify.outcome import AttemptOutcome
from infra.notify.signing import body_bytes, signed_headers
from infra.notify.ssrf import IPNetwork, Resolver, UnsafeUrlError, check_url
from schemas.events import BreachEvent, to_jsonable

_log = logging.getLogger("aetheris.notify")

DEFAULT_CONSUMER = "aetheris-notify"
EMAIL_LEVEL = 3


class Mailer(Protocol):
    def send(self, to_address: str, subject: str, text: str) -> AttemptOutcome: ...


@dataclass(frozen=True)
class NotifyConfig:
    topic: str
    consumer: str = DEFAULT_CONSUMER
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    allowed_networks: tuple[IPNetwork, ...] = ()
    lease_seconds: float = 60.0
    batch_size: int = 32
    read_batch: int = 500
    poll_seconds: float = 0.5
    concurrency: int = 4


@dataclass
class CycleReport:
    """What one ingest + deliver round did."""

    breaches_read: int = 0
    bad_messages: int = 0
    webhooks_queued: int = 0
    emails_queued: int = 0
    attempts: int = 0
    succeeded: int = 0
    failed: int = 0
    dead: int = 0

    @property
    def idle(self) -> bool:
        return self.breaches_read == 0 and self.bad_messages == 0 and self.attempts == 0


def email_text(event: dict[str, Any]) -> tuple[str, str]:
    """The subject and plain-text body of a level-3 alert e-mail."""
    account = event.get("account_id", "?")
    rule = str(event.get("rule", "?")).replace("_", " ")
    subject = f"AETHERIS: {rule} breached on account {account}"
    lines = [
        str(event.get("message", "")),
        "",
        f"Account:   {account}",
        f"Rule:      {rule}",
        f"Level:     {event.get('level', '?')} (breached)",
        f"Used:      {event.get('value', '?')}",
        f"Limit:     {event.get('limit', '?')}",
    ]
    if event.get("threshold") is not None:
        lines.append(f"Threshold: {event['threshold']}")
    lines += [f"Time:      {event.get('ts', '?')}", f"Breach id: {event.get('breach_id', '?')}"]
    return subject, "\n".join(lines) + "\n"


class NotifyWorker:
    """Runs ingest and deliver rounds until stopped (several may run against one database)."""

    def __init__(
        self,
        *,
        pool: Pool,
        bus: Bus | None,
        config: NotifyConfig,
        cipher: SecretCipher,
        resolver: Resolver,
        http: WebhookHttpClient,
        mailer: Mailer | None = None,
        rng: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._config = config
        self._cipher = cipher
        self._resolver = resolver
        self._http = http
        self._mailer = mailer
        self._rng = rng
        self._now = now
        self._reader: Reader | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=config.concurrency, thread_name_prefix="notify-send"
        )

    # ingest -----------------------------------------------------------------------------

    def open_reader(self, *, from_beginning: bool = False) -> None:
        """Resume the breach topic at the saved offsets. A partition never read starts at
        its beginning (``from_beginning``) or at its current end, and that start is saved
        at once, so breaches published while the worker is down later are not skipped."""
        if self._bus is None:
            raise RuntimeError("this worker has no bus to read breaches from")
        topic = self._config.topic
        partitions = self._bus.partition_count(topic)
        with self._pool.connection() as conn:
            saved = repo.load_offsets(conn, self._config.consumer, topic)
            start: dict[int, int] = {}
            fresh: dict[int, int] = {}
            ends = {} if from_beginning else self._bus.end_offsets(topic)
            for partition in range(partitions):
                if partition in saved:
                    start[partition] = saved[partition]
                else:
                    # offset 0 is "the oldest kept" too: readers reset to the earliest
                    start[partition] = fresh[partition] = ends.get(partition, 0)
            repo.save_offsets(conn, self._config.consumer, topic, fresh)
        self._reader = self._bus.reader(topic, start)

    def ingest_once(self, timeout: float) -> CycleReport:
        report = CycleReport()
        if self._reader is None:
            return report
        messages = self._reader.read(self._config.read_batch, timeout)
        if messages:
            self.ingest(messages, report)
        return report

    def ingest(self, messages: list[BusMessage], report: CycleReport | None = None) -> CycleReport:
        """Queue the deliveries of ``messages`` and save the offsets, in one transaction."""
        report = report or CycleReport()
        before = (report.breaches_read, report.bad_messages)
        queued = (report.webhooks_queued, report.emails_queued)
        next_offsets: dict[int, int] = {}
        with self._pool.connection() as conn, conn.transaction():
            for message in messages:
                next_offsets[message.partition] = max(
                    next_offsets.get(message.partition, 0), message.offset + 1
                )
                self._queue_message(conn, message, report)
            repo.save_offsets(conn, self._config.consumer, self._config.topic, next_offsets)
        # Counted once the transaction committed, per batch of messages.
        metrics.BREACHES_READ.inc(report.breaches_read - before[0])
        metrics.BAD_MESSAGES.inc(report.bad_messages - before[1])
        metrics.QUEUED.labels("webhook").inc(report.webhooks_queued - queued[0])
        metrics.QUEUED.labels("email").inc(report.emails_queued - queued[1])
        return report

    def _queue_message(
        self, conn: repo.Connection, message: BusMessage, report: CycleReport
    ) -> None:
        try:
            breach = BreachEvent.model_validate_json(message.value or b"")
        except ValidationError as exc:
            report.bad_messages += 1
            first = exc.errors(include_url=False)[0]
            field_name = ".".join(str(part) for part in first["loc"]) or "message"
            reason = f"not a breach event: {field_name}: {first['msg']}"
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            _log.warning("notify: skipped %s: %s", where, reason)
            conn.execute(
                "INSERT INTO dead_letters (source, raw_payload, reason) VALUES (%s, %s, %s)",
                (
                    f"notify:{where}",
                    (message.value or b"").decode("utf-8", "replace"),
                    reason,
                ),
            )
            return
        report.breaches_read += 1
        event = to_jsonable(breach)
        report.webhooks_queued += repo.queue_breach_webhooks(
            conn,
            account_id=breach.account_id,
            level=breach.level,
            event_id=breach.breach_id,
            payload={"type": "breach", "data": event},
        )
        if breach.level == EMAIL_LEVEL and self._mailer is not None:
            report.emails_queued += repo.queue_breach_emails(
                conn, account_id=breach.account_id, event_id=breach.breach_id, payload=event
            )

    # deliver ----------------------------------------------------------------------------

    def deliver_once(self) -> CycleReport:
        """Claim what is due on each channel, send it, record every attempt."""
        report = CycleReport()
        channels: list[repo.Channel] = ["webhook"]
        if self._mailer is not None:
            channels.append("email")
        for channel in channels:
            with self._pool.connection() as conn, conn.transaction():
                claimed = repo.claim_due(
                    conn,
                    channel,
                    limit=self._config.batch_size,
                    lease_seconds=self._config.lease_seconds,
                )
            if not claimed:
                continue
            outcomes = list(self._executor.map(self._send, claimed))
            with self._pool.connection() as conn, conn.transaction():
                for delivery, outcome in zip(claimed, outcomes, strict=True):
                    self._record(conn, delivery, outcome, report)
        return report

    def _record(
        self,
        conn: repo.Connection,
        delivery: repo.ClaimedDelivery,
        outcome: AttemptOutcome,
        report: CycleReport,
    ) -> None:
        report.attempts += 1
        retry = self._config.retry
        retry_in: float | None = None
        if not outcome.succeeded and not retry.gives_up_after(delivery.attempt):
            retry_in = retry.delay(delivery.attempt, self._rng())
        status = repo.record_outcome(conn, delivery, outcome, retry_in_seconds=retry_in)
        channel = delivery.channel
        metrics.ATTEMPT_SECONDS.labels(channel).observe(outcome.duration_ms / 1000.0)
        if status is not None:  # None: another worker took the delivery over meanwhile
            metrics.DELIVERIES.labels(channel, status).inc()
        if status == "failed":
            metrics.RETRIES.labels(channel).inc()
        elif status == "dead":
            metrics.FAILURES.labels(channel).inc()
        if status == "succeeded":
            report.succeeded += 1
        elif status == "failed":
            report.failed += 1
            _log.info(
                "notify: %s delivery %d attempt %d failed (%s); next try in %.1f s",
                delivery.channel,
                delivery.id,
                delivery.attempt,
                outcome.error,
                retry_in,
            )
        elif status == "dead":
            report.dead += 1
            _log.warning(
                "notify: %s delivery %d is dead after %d attempts; last error: %s",
                delivery.channel,
                delivery.id,
                delivery.attempt,
                outcome.error,
            )

    def _send(self, delivery: repo.ClaimedDelivery) -> AttemptOutcome:
        try:
            if delivery.channel == "webhook":
                return self._send_webhook(delivery)
            return self._send_email(delivery)
        except Exception as exc:  # a bug must not wedge the queue: record it, retry later
            _log.exception("notify: %s delivery %d raised", delivery.channel, delivery.id)
            return AttemptOutcome(
                succeeded=False, duration_ms=0.0, error=f"internal error: {type(exc).__name__}"
            )

    def _send_webhook(self, delivery: repo.ClaimedDelivery) -> AttemptOutcome:
        assert delivery.url is not None
        assert delivery.secret_ciphertext is not None
        assert delivery.message_id is not None
        try:
            target = check_url(delivery.url, self._resolver, self._config.allowed_networks)
        except UnsafeUrlError as exc:
            return AttemptOutcome(succeeded=False, duration_ms=0.0, error=f"refused: {exc}")
        try:
            secret = self._cipher.decrypt(bytes(delivery.secret_ciphertext)).decode("ascii")
        except ValueError as exc:  # CipherError, or any cipher's "cannot decrypt"
            return AttemptOutcome(succeeded=False, duration_ms=0.0, error=str(exc))
        body = body_bytes(delivery.payload)
        headers = signed_headers(secret, delivery.message_id, self._now(), body)
        return self._http.post(target, body, headers)

    def _send_email(self, delivery: repo.ClaimedDelivery) -> AttemptOutcome:
        assert self._mailer is not None
        assert delivery.to_address is not None
        subject, text = email_text(delivery.payload)
        return self._mailer.send(delivery.to_address, subject, text)

    # the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Ingest and deliver until ``stop`` is set; a lost database connection is retried."""
        while not stop.is_set():
            try:
                report = self.ingest_once(self._config.poll_seconds if self._reader else 0.0)
                delivered = self.deliver_once()
            except psycopg.OperationalError as exc:
                _log.warning("notify: database unavailable (%s); retrying", exc)
                stop.wait(self._config.poll_seconds * 4)
                continue
            if report.idle and delivered.idle and self._reader is None:
                stop.wait(self._config.poll_seconds)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
