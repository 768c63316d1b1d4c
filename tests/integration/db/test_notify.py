"""Webhooks and e-mail alerts on the real PostgreSQL, with a real HTTP receiver and a real
SMTP server (aiosmtpd, STARTTLS) started by the test on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from standardwebhooks import Webhook

from api.webhooks import InvalidWebhook, NotFound, WebhookService
from infra.bus import InProcessBus
from infra.db.pool import Pool
from infra.notify import repository as repo
from infra.notify.backoff import RetryPolicy
from infra.notify.cipher import FernetCipher, cipher_from_secret_key
from infra.notify.http import WebhookHttpClient
from infra.notify.outcome import AttemptOutcome
from infra.notify.smtp import SmtpConfig, SmtpMailer
from infra.notify.ssrf import SystemResolver, check_url, parse_allowed_networks
from infra.notify.worker import Mailer, NotifyConfig, NotifyWorker
from infra.secrets import new_key
from tests.integration.notify_support import (
    breach_event,
    make_account,
    make_user,
    self_signed_certificate,
    user_email,
    webhook_receiver,
)

LOCAL = parse_allowed_networks("127.0.0.0/8")
CIPHER = cipher_from_secret_key(SecretStr("notify-tests-secret-key-0123456789"))


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def service(pool: Pool) -> WebhookService:
    return WebhookService(pool, cipher=CIPHER, resolver=SystemResolver(), allowed_networks=LOCAL)


def worker_for(
    pool: Pool,
    bus: InProcessBus | None = None,
    *,
    topic: str = "unused",
    max_attempts: int = 5,
    allowed: tuple[Any, ...] = LOCAL,
    mailer: Mailer | None = None,
) -> NotifyWorker:
    return NotifyWorker(
        pool=pool,
        bus=bus,
        config=NotifyConfig(
            topic=topic,
            consumer=f"test-{uuid4().hex[:8]}",
            retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02, max_attempts=max_attempts),
            allowed_networks=allowed,
            lease_seconds=30.0,
            poll_seconds=0.05,
        ),
        cipher=CIPHER,
        resolver=SystemResolver(),
        http=WebhookHttpClient(timeout_seconds=5.0),
        mailer=mailer,
        rng=lambda: 0.0,  # no jitter wait: the retry is due at once
    )


def drain(
    worker: NotifyWorker, event_id: str, pool: Pool, channel: repo.Channel = "webhook"
) -> None:
    """Deliver until no delivery of ``event_id`` is pending or failed (bounded rounds)."""
    for _ in range(200):
        worker.deliver_once()
        with pool.connection() as c:
            states = repo.delivery_states(c, channel, event_id)
        if states and all(s.status in ("succeeded", "dead") for s in states):
            return
    raise AssertionError(f"deliveries of {event_id} never settled: {states}")


def secret_of(
    service: WebhookService, owner: UUID, url: str, levels: list[int]
) -> tuple[UUID, str]:
    registered = service.register_webhook(owner, url, levels)
    return registered.id, registered.secret


def publish_breach(bus: InProcessBus, topic: str, event: dict[str, Any]) -> None:
    publisher = bus.publisher()
    publisher.publish(topic, event["account_id"], json.dumps(event).encode())
    publisher.flush()


# Registration ---------------------------------------------------------------------------


def test_register_list_delete_scoped_to_the_owner(
    service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    alice, bob = make_user(conn), make_user(conn)
    registered = service.register_webhook(alice, "http://127.0.0.1:9/hook", [3, 2])
    assert registered.secret.startswith("whsec_")
    listed = service.list_webhooks(alice)
    assert [(w.id, w.url, w.levels) for w in listed] == [
        (registered.id, "http://127.0.0.1:9/hook", (2, 3))
    ]
    assert service.list_webhooks(bob) == []
    # bob cannot delete alice's endpoint, and learns nothing from trying
    with pytest.raises(NotFound):
        service.delete_webhook(bob, registered.id)
    with pytest.raises(NotFound):
        service.delete_webhook(bob, uuid4())
    assert len(service.list_webhooks(alice)) == 1
    service.delete_webhook(alice, registered.id)
    assert service.list_webhooks(alice) == []
    with pytest.raises(NotFound):
        service.delete_webhook(alice, registered.id)


def test_the_secret_is_stored_encrypted(
    service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    registered = service.register_webhook(owner, "http://127.0.0.1:9/hook")
    row = conn.execute(
        "SELECT secret_ciphertext, levels FROM webhook_endpoints WHERE id = %s", (registered.id,)
    ).fetchone()
    assert row is not None
    stored = bytes(row[0])
    assert registered.secret.encode() not in stored
    assert CIPHER.decrypt(stored) == registered.secret.encode()
    assert row[1] == [1, 2, 3]  # all levels by default


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://localhost:8080/hook", "loopback"),  # a real name resolving to 127.0.0.1
        ("http://127.0.0.1/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("ftp://example.com/", "http"),
    ],
)
def test_registration_refuses_unsafe_urls_without_the_allow_list(
    pool: Pool, conn: psycopg.Connection[Any], url: str, why: str
) -> None:
    strict = WebhookService(pool, cipher=CIPHER, resolver=SystemResolver())
    owner = make_user(conn)
    with pytest.raises(InvalidWebhook, match=why):
        strict.register_webhook(owner, url)
    assert strict.list_webhooks(owner) == []


@pytest.mark.parametrize("levels", [[], [0], [4], [1, 5], [True], ["3"], [3.0]])
def test_registration_refuses_bad_levels(
    service: WebhookService, conn: psycopg.Connection[Any], levels: list[Any]
) -> None:
    with pytest.raises(InvalidWebhook, match="levels"):
        service.register_webhook(make_user(conn), "http://127.0.0.1:9/hook", levels)


def test_registration_is_capped_per_owner(
    service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    for n in range(20):
        service.register_webhook(owner, f"http://127.0.0.1:9/hook{n}")
    with pytest.raises(InvalidWebhook, match="at most 20"):
        service.register_webhook(owner, "http://127.0.0.1:9/one-too-many")


# Delivery -------------------------------------------------------------------------------


def test_a_receiver_failing_twice_gets_the_breach_on_the_third_try_once_signed(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner, stranger = make_user(conn), make_user(conn)
    account = make_account(conn, owner)
    bus = InProcessBus()
    topic = f"breaches.{uuid4().hex[:8]}"
    bus.create_topics([topic], 2)
    event = breach_event(account, level=2)
    with (
        webhook_receiver(fail_first=2) as wanted,
        webhook_receiver() as level3_only,
        webhook_receiver() as strangers,
    ):
        _, secret = secret_of(service, owner, wanted.url, [2, 3])
        secret_of(service, owner, level3_only.url, [3])
        secret_of(service, stranger, strangers.url, [1, 2, 3])
        worker = worker_for(pool, bus, topic=topic)
        try:
            worker.open_reader(from_beginning=True)
            publish_breach(bus, topic, event)
            report = worker.ingest_once(timeout=2.0)
            assert (report.breaches_read, report.webhooks_queued) == (1, 1)
            drain(worker, event["breach_id"], pool)
        finally:
            worker.close()

        assert [r.answered for r in wanted.requests] == [500, 500, 200]
        ids = {r.headers["webhook-id"] for r in wanted.requests}
        assert len(ids) == 1  # the same webhook-id on every try
        (success,) = wanted.successes()
        # the scheme's own library verifies it, and the body is the contract's shape
        assert Webhook(secret).verify(success.body, success.headers) == {
            "type": "breach",
            "data": event,
        }
        assert success.path == "/hook"
        assert success.headers["host"] == f"127.0.0.1:{wanted.port}"
        assert level3_only.requests == []  # level 2 is not among its levels
        assert strangers.requests == []  # another user's account

    with pool.connection() as c:
        (state,) = repo.delivery_states(c, "webhook", event["breach_id"])
        attempts = c.execute(
            "SELECT attempt, status_code, succeeded, error, duration_ms IS NOT NULL "
            "FROM webhook_attempts WHERE delivery_id = %s ORDER BY attempt",
            (state.id,),
        ).fetchall()
    assert (state.status, state.attempts, state.last_status_code) == ("succeeded", 3, 200)
    assert attempts == [
        (1, 500, False, "HTTP 500", True),
        (2, 500, False, "HTTP 500", True),
        (3, 200, True, None, True),
    ]


def test_a_replayed_breach_is_queued_and_delivered_once(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    bus = InProcessBus()
    topic = f"breaches.{uuid4().hex[:8]}"
    bus.create_topics([topic], 1)
    event = breach_event(account)
    with webhook_receiver() as receiver:
        secret_of(service, owner, receiver.url, [3])
        worker = worker_for(pool, bus, topic=topic)
        try:
            worker.open_reader(from_beginning=True)
            publish_breach(bus, topic, event)
            publish_breach(bus, topic, event)  # the pipeline replayed it after a restart
            report = worker.ingest_once(timeout=2.0)
            assert (report.breaches_read, report.webhooks_queued) == (2, 1)
            drain(worker, event["breach_id"], pool)
            assert worker.deliver_once().attempts == 0
        finally:
            worker.close()
        assert len(receiver.requests) == 1


def test_a_bad_message_on_the_topic_is_dead_lettered_with_its_reason(
    pool: Pool, conn: psycopg.Connection[Any]
) -> None:
    bus = InProcessBus()
    topic = f"breaches.{uuid4().hex[:8]}"
    bus.create_topics([topic], 1)
    publisher = bus.publisher()
    publisher.publish(topic, "k", b'{"type": "breach", "level": 9}')
    worker = worker_for(pool, bus, topic=topic)
    try:
        worker.open_reader(from_beginning=True)
        report = worker.ingest_once(timeout=2.0)
    finally:
        worker.close()
    assert (report.bad_messages, report.breaches_read) == (1, 0)
    row = conn.execute(
        "SELECT raw_payload, reason FROM dead_letters WHERE source = %s", (f"notify:{topic}[0]@0",)
    ).fetchone()
    assert row is not None
    assert row[0] == '{"type": "breach", "level": 9}'
    assert row[1].startswith("not a breach event: breach_id: Field required")


def test_offsets_survive_a_new_worker_so_nothing_is_read_twice(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    bus = InProcessBus()
    topic = f"breaches.{uuid4().hex[:8]}"
    bus.create_topics([topic], 1)
    consumer = f"restart-{uuid4().hex[:8]}"
    config = NotifyConfig(topic=topic, consumer=consumer)

    def new_worker() -> NotifyWorker:
        return NotifyWorker(
            pool=pool,
            bus=bus,
            config=config,
            cipher=CIPHER,
            resolver=SystemResolver(),
            http=WebhookHttpClient(),
        )

    first = new_worker()
    first.open_reader()  # first start: from the end, saved at once
    publish_breach(bus, topic, breach_event(account))  # published while it runs
    assert first.ingest_once(timeout=2.0).breaches_read == 1
    first.close()
    publish_breach(bus, topic, breach_event(account))  # published while it is down
    second = new_worker()
    second.open_reader()
    assert second.ingest_once(timeout=2.0).breaches_read == 1  # only the new one
    assert second.ingest_once(timeout=0.1).breaches_read == 0
    second.close()
    assert repo.load_offsets(conn, consumer, topic) == {0: 2}


def test_a_first_start_from_the_beginning_is_remembered_for_an_empty_partition(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    bus = InProcessBus()
    topic = f"breaches.{uuid4().hex[:8]}"
    bus.create_topics([topic], 1)
    consumer = f"empty-{uuid4().hex[:8]}"
    config = NotifyConfig(topic=topic, consumer=consumer)
    first = NotifyWorker(
        pool=pool,
        bus=bus,
        config=config,
        cipher=CIPHER,
        resolver=SystemResolver(),
        http=WebhookHttpClient(),
    )
    first.open_reader(from_beginning=True)  # nothing on the topic yet
    first.close()
    assert repo.load_offsets(conn, consumer, topic) == {0: 0}
    publish_breach(bus, topic, breach_event(account))  # while no worker runs
    second = NotifyWorker(
        pool=pool,
        bus=bus,
        config=config,
        cipher=CIPHER,
        resolver=SystemResolver(),
        http=WebhookHttpClient(),
    )
    second.open_reader()  # a later start without the flag still reads it
    try:
        assert second.ingest_once(timeout=2.0).breaches_read == 1
    finally:
        second.close()


def test_a_receiver_that_never_answers_2xx_goes_dead_after_max_attempts(
    pool: Pool,
    service: WebhookService,
    conn: psycopg.Connection[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    event = breach_event(account)
    with webhook_receiver(fail_first=100) as receiver:
        secret_of(service, owner, receiver.url, [3])
        with pool.connection() as c:
            queued = repo.queue_breach_webhooks(
                c,
                account_id=account,
                level=3,
                event_id=event["breach_id"],
                payload={"type": "breach", "data": event},
            )
        assert queued == 1
        worker = worker_for(pool, max_attempts=3)
        with caplog.at_level(logging.WARNING, logger="aetheris.notify"):
            try:
                drain(worker, event["breach_id"], pool)
            finally:
                worker.close()
        assert len(receiver.requests) == 3
    with pool.connection() as c:
        (state,) = repo.delivery_states(c, "webhook", event["breach_id"])
    assert (state.status, state.attempts, state.last_error) == ("dead", 3, "HTTP 500")
    assert "is dead after 3 attempts; last error: HTTP 500" in caplog.text


def test_a_redirect_is_not_followed(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    event = breach_event(account)
    with (
        webhook_receiver() as elsewhere,
        webhook_receiver(redirect_to="http://169.254.169.254/latest/meta-data/") as redirecting,
    ):
        redirecting.redirect_to = elsewhere.url  # even to an allowed address: never followed
        secret_of(service, owner, redirecting.url, [3])
        with pool.connection() as c:
            repo.queue_breach_webhooks(
                c, account_id=account, level=3, event_id=event["breach_id"], payload=event
            )
        worker = worker_for(pool, max_attempts=1)
        try:
            drain(worker, event["breach_id"], pool)
        finally:
            worker.close()
        assert [r.answered for r in redirecting.requests] == [302]
        assert elsewhere.requests == []
    with pool.connection() as c:
        (state,) = repo.delivery_states(c, "webhook", event["breach_id"])
    assert state.status == "dead"
    assert state.last_status_code == 302
    assert state.last_error is not None
    assert "redirect not followed" in state.last_error


def test_the_guard_runs_again_at_delivery_time(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    event = breach_event(account)
    with webhook_receiver() as receiver:
        # registered while loopback was allowed; the worker's allow-list is empty
        secret_of(service, owner, receiver.url.replace("127.0.0.1", "localhost"), [3])
        with pool.connection() as c:
            repo.queue_breach_webhooks(
                c, account_id=account, level=3, event_id=event["breach_id"], payload=event
            )
        worker = worker_for(pool, max_attempts=1, allowed=())
        try:
            drain(worker, event["breach_id"], pool)
        finally:
            worker.close()
        assert receiver.requests == []
    with pool.connection() as c:
        (state,) = repo.delivery_states(c, "webhook", event["breach_id"])
    assert state.status == "dead"
    assert state.last_error is not None
    assert state.last_error.startswith("refused: localhost:")
    assert "loopback" in state.last_error


def test_two_workers_never_claim_the_same_delivery(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any], database_url: str
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    secret_of(service, owner, "http://127.0.0.1:9/a", [3])
    event_ids = [f"skip-{uuid4().hex}" for _ in range(6)]
    with pool.connection() as c:
        for event_id in event_ids:
            repo.queue_breach_webhooks(
                c, account_id=account, level=3, event_id=event_id, payload={"type": "breach"}
            )
    mine = set(event_ids)
    with psycopg.connect(database_url) as first, psycopg.connect(database_url) as second:
        # the first worker's claim is still uncommitted while the second one claims
        claimed_first = [
            d
            for d in repo.claim_due(first, "webhook", limit=3, lease_seconds=30)
            if d.event_id in mine
        ]
        claimed_second = [
            d
            for d in repo.claim_due(second, "webhook", limit=100, lease_seconds=30)
            if d.event_id in mine
        ]
        first.commit()
        second.commit()
    ids_first = {d.id for d in claimed_first}
    ids_second = {d.id for d in claimed_second}
    assert ids_first.isdisjoint(ids_second)
    assert len(ids_first | ids_second) == 6


def test_a_lease_that_runs_out_is_taken_again_and_the_cut_attempt_recorded(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    secret_of(service, owner, "http://127.0.0.1:9/a", [3])
    event_id = f"lease-{uuid4().hex}"
    with pool.connection() as c:
        repo.queue_breach_webhooks(
            c, account_id=account, level=3, event_id=event_id, payload={"type": "breach"}
        )
    with pool.connection() as c:
        (first,) = [
            d
            for d in repo.claim_due(c, "webhook", limit=1000, lease_seconds=0)
            if d.event_id == event_id
        ]
    # the worker that held it "died": its lease (0 s) is over, another worker takes it
    with pool.connection() as c:
        (again,) = [
            d
            for d in repo.claim_due(c, "webhook", limit=1000, lease_seconds=30)
            if d.event_id == event_id
        ]
        assert (first.attempt, again.attempt) == (1, 2)
        assert first.message_id == again.message_id
        # the late answer of the first worker does not overwrite the second's claim
        late = repo.record_outcome(
            c,
            first,
            AttemptOutcome(succeeded=True, duration_ms=1.0, status_code=200),
            retry_in_seconds=None,
        )
        assert late is None
        done = repo.record_outcome(
            c,
            again,
            AttemptOutcome(succeeded=True, duration_ms=2.0, status_code=200),
            retry_in_seconds=None,
        )
        assert done == "succeeded"
        rows = c.execute(
            "SELECT a.attempt, a.succeeded FROM webhook_attempts a "
            "JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = %s "
            "ORDER BY a.attempt",
            (event_id,),
        ).fetchall()
    # attempt 1 was closed as interrupted by the reclaim, then its late answer recorded
    assert rows == [(1, True), (2, True)]


def test_resend_of_a_level_3_alert_is_a_new_message_for_the_owner_only(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner, other = make_user(conn), make_user(conn)
    account = make_account(conn, owner)
    event = breach_event(account, level=3)
    low = breach_event(account, level=1)
    for stored in (event, low):
        conn.execute(
            "INSERT INTO breaches (breach_id, account_id, rule, level, ts, value, limit_value, "
            "threshold, message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                stored["breach_id"],
                account,
                stored["rule"],
                stored["level"],
                stored["ts"],
                stored["value"],
                stored["limit"],
                stored["threshold"],
                stored["message"],
            ),
        )
    with webhook_receiver() as receiver:
        _, secret = secret_of(service, owner, receiver.url, [3])
        with pytest.raises(NotFound):
            service.resend_alert(other, event["breach_id"])
        with pytest.raises(NotFound):
            service.resend_alert(owner, "no-such-breach")
        with pytest.raises(InvalidWebhook, match="level-3"):
            service.resend_alert(owner, low["breach_id"])
        assert service.resend_alert(owner, event["breach_id"]) == 1
        assert service.resend_alert(owner, event["breach_id"]) == 1
        worker = worker_for(pool)
        try:
            for _ in range(50):
                worker.deliver_once()
                if len(receiver.successes()) == 2:
                    break
        finally:
            worker.close()
        first, second = receiver.successes()
        assert first.headers["webhook-id"] != second.headers["webhook-id"]
        assert Webhook(secret).verify(first.body, first.headers) == {
            "type": "breach",
            "data": event,
        }


# E-mail ---------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.ssl is not None)
        )
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"alerts",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)  # False: the server answers 535

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        auth_required=True,
    )
    controller.start()
    try:
        yield inbox, controller.port, cert
    finally:
        controller.stop()


def mailer_for(port: int, ca: Path, password: str = "s3cret") -> SmtpMailer:
    return SmtpMailer(
        SmtpConfig(
            host="127.0.0.1",
            port=port,
            sender="alerts@aetheris.test",
            user="alerts",
            password=SecretStr(password),
            starttls=True,
            timeout_seconds=5.0,
            ca_file=ca,
        )
    )


def test_level_3_breaches_are_mailed_over_starttls_to_users_who_opted_in(
    pool: Pool, conn: psycopg.Connection[Any], smtp_server: tuple[Inbox, int, Path]
) -> None:
    inbox, port, ca = smtp_server
    opted_in, opted_out = make_user(conn, email_alerts=True), make_user(conn)
    account, quiet_account = make_account(conn, opted_in), make_account(conn, opted_out)
    bus = InProcessBus()
    topic = f"breaches.{uuid4().hex[:8]}"
    bus.create_topics([topic], 1)
    breached = breach_event(account, level=3)
    worker = worker_for(pool, bus, topic=topic, mailer=mailer_for(port, ca))
    try:
        worker.open_reader(from_beginning=True)
        publish_breach(bus, topic, breach_event(account, level=2))  # level 2: no e-mail
        publish_breach(bus, topic, breached)
        publish_breach(bus, topic, breach_event(quiet_account, level=3))  # not opted in
        report = worker.ingest_once(timeout=2.0)
        assert (report.breaches_read, report.emails_queued) == (3, 1)
        drain(worker, breached["breach_id"], pool, "email")
    finally:
        worker.close()
    (message,) = inbox.messages
    mail_from, rcpt_tos, content, over_tls = message
    assert over_tls
    assert mail_from == "alerts@aetheris.test"
    assert rcpt_tos == [user_email(conn, opted_in)]
    text = content.decode()
    assert f"Subject: AETHERIS: max daily loss breached on account {account}" in text
    assert "Daily loss 5,150.00 reached the limit 5,000.00" in text
    assert f"Breach id: {breached['breach_id']}" in text
    with pool.connection() as c:
        (state,) = repo.delivery_states(c, "email", breached["breach_id"])
    assert (state.status, state.attempts, state.last_status_code) == ("succeeded", 1, 250)


def test_smtp_failures_are_recorded_and_retried_like_webhooks(
    pool: Pool, conn: psycopg.Connection[Any], smtp_server: tuple[Inbox, int, Path], tmp_path: Path
) -> None:
    inbox, port, ca = smtp_server
    user = make_user(conn, email_alerts=True)
    account = make_account(conn, user)
    event = breach_event(account)
    with pool.connection() as c:
        assert (
            repo.queue_breach_emails(
                c, account_id=account, event_id=event["breach_id"], payload=event
            )
            == 1
        )
        assert (
            repo.queue_breach_emails(
                c, account_id=account, event_id=event["breach_id"], payload=event
            )
            == 0
        )
    wrong_password = worker_for(pool, max_attempts=2, mailer=mailer_for(port, ca, password="nope"))
    try:
        drain(wrong_password, event["breach_id"], pool, "email")
    finally:
        wrong_password.close()
    assert inbox.messages == []
    with pool.connection() as c:
        (state,) = repo.delivery_states(c, "email", event["breach_id"])
        errors = c.execute(
            "SELECT attempt, status_code, error FROM email_attempts WHERE delivery_id = %s "
            "ORDER BY attempt",
            (state.id,),
        ).fetchall()
    assert (state.status, state.attempts, state.last_status_code) == ("dead", 2, 535)
    assert [(a, code) for a, code, _ in errors] == [(1, 535), (2, 535)]
    assert "nope" not in str(errors)  # the password never lands in the record

    # a certificate the client does not trust: the TLS handshake fails, nothing is sent
    elsewhere = tmp_path / "other-ca"
    elsewhere.mkdir()
    other_ca, _ = self_signed_certificate(elsewhere)
    untrusted = mailer_for(port, other_ca).send("someone@example.com", "s", "t")
    assert not untrusted.succeeded
    assert untrusted.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    assert inbox.messages == []


def test_fernet_cipher_refuses_a_foreign_ciphertext() -> None:
    other = FernetCipher(b"A" * 43 + b"=")
    token = CIPHER.encrypt(b"x")
    with pytest.raises(ValueError, match="does not decrypt"):
        other.decrypt(token)


# HTTPS: the checked address, the URL's name -------------------------------------------


class OneNameResolver:
    def __init__(self, name: str, address: str) -> None:
        self.name, self.address = name, address

    def resolve(self, host: str, port: int) -> list[str]:
        if host != self.name:
            raise AssertionError(f"asked to resolve {host!r}")
        return [self.address]


def test_https_goes_to_the_checked_address_and_verifies_the_urls_name(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path, host="hooks.test")
    trust = ssl.create_default_context(cafile=str(cert))
    client = WebhookHttpClient(timeout_seconds=5.0, tls_context=trust)
    resolver = OneNameResolver("hooks.test", "127.0.0.1")
    try:
        with webhook_receiver(tls=(cert, key)) as receiver:
            target = check_url(f"https://hooks.test:{receiver.port}/in", resolver, LOCAL)
            outcome = client.post(target, b"{}", {"webhook-id": "msg_tls"})
            assert (outcome.succeeded, outcome.status_code) == (True, 200)
            (request,) = receiver.requests
            assert request.headers["host"] == f"hooks.test:{receiver.port}"
            assert request.path == "/in"

        # a certificate for another name: refused, though the address is the same
        wrong_cert, wrong_key = self_signed_certificate(tmp_path, host="other.test")
        client_trusting_it = WebhookHttpClient(
            timeout_seconds=5.0, tls_context=ssl.create_default_context(cafile=str(wrong_cert))
        )
        try:
            with webhook_receiver(tls=(wrong_cert, wrong_key)) as impostor:
                target = check_url(f"https://hooks.test:{impostor.port}/in", resolver, LOCAL)
                refused = client_trusting_it.post(target, b"{}", {})
                assert not refused.succeeded
                assert refused.error is not None
                assert "CERTIFICATE_VERIFY_FAILED" in refused.error
                assert impostor.requests == []
        finally:
            client_trusting_it.close()
    finally:
        client.close()


# The command ------------------------------------------------------------------------------


def run_worker_command(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AETHERIS_", "KAFKA_"))}
    env.pop("DATABASE_URL", None)
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "aetheris.cli", "worker", "notify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_worker_command_says_what_is_missing(database_url: str) -> None:
    no_database = run_worker_command({})
    assert no_database.returncode == 2
    assert "DATABASE_URL is not set" in no_database.stderr

    no_key = run_worker_command({"DATABASE_URL": database_url})
    assert no_key.returncode == 2
    assert "AETHERIS_ENCRYPTION_KEYS is not set" in no_key.stderr

    key = new_key()
    bad_networks = run_worker_command(
        {
            "DATABASE_URL": database_url,
            "AETHERIS_ENCRYPTION_KEYS": key,
            "AETHERIS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,10.0.0.0/33",
        }
    )
    assert bad_networks.returncode == 2
    assert "AETHERIS_WEBHOOK_ALLOWED_NETWORKS entry 2 ('10.0.0.0/33')" in bad_networks.stderr
    assert key not in bad_networks.stderr + bad_networks.stdout


def test_a_secret_that_no_longer_decrypts_is_a_recorded_failure_not_a_crash(
    pool: Pool, service: WebhookService, conn: psycopg.Connection[Any]
) -> None:
    owner = make_user(conn)
    account = make_account(conn, owner)
    event = breach_event(account)
    with webhook_receiver() as receiver:
        secret_of(service, owner, receiver.url, [3])
        with pool.connection() as c:
            repo.queue_breach_webhooks(
                c, account_id=account, level=3, event_id=event["breach_id"], payload=event
            )
        rotated_key = NotifyWorker(
            pool=pool,
            bus=None,
            config=NotifyConfig(
                topic="unused",
                retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02, max_attempts=1),
                allowed_networks=LOCAL,
            ),
            cipher=cipher_from_secret_key(SecretStr("another-key-entirely-0123456789")),
            resolver=SystemResolver(),
            http=WebhookHttpClient(),
        )
        try:
            drain(rotated_key, event["breach_id"], pool)
        finally:
            rotated_key.close()
        assert receiver.requests == []  # nothing unsigned or wrongly signed went out
    with pool.connection() as c:
        (state,) = repo.delivery_states(c, "webhook", event["breach_id"])
    assert state.status == "dead"
    assert state.last_error is not None
    assert "does not decrypt" in state.last_error
