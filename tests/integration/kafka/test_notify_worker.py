"""`aetheris worker notify` as a separate process on the real broker and database: a breach
on the topic reaches a local receiver signed; the worker is killed between retries and
started again, and the receiver gets the delivery once."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr
from standardwebhooks import Webhook

from api.webhooks import WebhookService
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.database import prepare_database
from infra.db.pool import create_pool
from infra.db.scratch import scratch_database
from infra.notify import repository as repo
from infra.notify.cipher import cipher_from_secret_key
from infra.notify.ssrf import SystemResolver, parse_allowed_networks
from infra.secrets import new_key
from tests.integration.db.conftest import ADMIN_URL
from tests.integration.notify_support import (
    breach_event,
    make_account,
    make_user,
    webhook_receiver,
)

from .support import aetheris

SECRET_KEY = "notify-kafka-test-secret-key-0123456789"


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def publish_breach(kafka: KafkaBus, topic: str, event: dict[str, Any]) -> None:
    publisher = kafka.publisher()
    publisher.publish(topic, event["account_id"], json.dumps(event).encode())
    publisher.flush()
    publisher.close()


def test_worker_killed_mid_retry_delivers_once_after_restart(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "notify.log"
    with scratch_database(ADMIN_URL, prefix="aetheris_notify") as url:
        prepare_database(url, timescale="off")
        pool = create_pool(url, size=2, name="notify-test")
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                owner = make_user(conn)
                account = make_account(conn, owner)
            service = WebhookService(
                pool,
                cipher=cipher_from_secret_key(SecretStr(SECRET_KEY)),
                resolver=SystemResolver(),
                allowed_networks=parse_allowed_networks("127.0.0.0/8"),
            )
            env = {
                **kafka_env,
                "DATABASE_URL": url,
                "AETHERIS_SECRET_KEY": SECRET_KEY,  # reads the endpoint's pre-key-box secret
                "AETHERIS_ENCRYPTION_KEYS": new_key(),
                "AETHERIS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
                "AETHERIS_NOTIFY_RETRY_BASE_SECONDS": "1.5",
                "AETHERIS_NOTIFY_RETRY_MAX_SECONDS": "1.5",
                "AETHERIS_WEBHOOK_TIMEOUT_SECONDS": "1",
                "AETHERIS_SMTP_TIMEOUT_SECONDS": "0.5",
                "AETHERIS_NOTIFY_POLL_SECONDS": "0.1",
            }
            first_event = breach_event(account, level=3)
            later_event = breach_event(account, level=3)
            with webhook_receiver(fail_first=2) as receiver:
                secret = service.register_webhook(owner, receiver.url, [3]).secret
                publish_breach(kafka, topics.breaches, first_event)

                def states(event: dict[str, Any]) -> list[repo.DeliveryState]:
                    with pool.connection() as conn:
                        return repo.delivery_states(conn, "webhook", event["breach_id"])

                worker = aetheris(["worker", "notify", "--from-beginning"], env, log)
                try:
                    wait_for(
                        lambda: any(s.status == "failed" for s in states(first_event)),
                        "the first failed attempt",
                    )
                finally:
                    worker.send_signal(signal.SIGKILL)  # no goodbye: mid-retry
                    worker.wait(30)
                assert receiver.successes() == []
                # published while no worker runs: read from the saved offset after restart
                publish_breach(kafka, topics.breaches, later_event)

                restarted = aetheris(["worker", "notify"], env, log)
                try:
                    wait_for(
                        lambda: (
                            [s.status for s in states(first_event) + states(later_event)]
                            == ["succeeded", "succeeded"]
                        ),
                        "both deliveries",
                    )
                    time.sleep(1.0)  # nothing more arrives afterwards
                finally:
                    restarted.send_signal(signal.SIGTERM)
                    assert restarted.wait(30) == 0, log.read_text()

            successes = receiver.successes()
            assert len(successes) == 2, [
                (r.answered, r.headers["webhook-id"]) for r in receiver.requests
            ]
            bodies = [Webhook(secret).verify(r.body, r.headers) for r in successes]
            assert sorted(b["data"]["breach_id"] for b in bodies) == sorted(
                [first_event["breach_id"], later_event["breach_id"]]
            )
            first_ids = {
                r.headers["webhook-id"]
                for r in receiver.requests
                if json.loads(r.body)["data"]["breach_id"] == first_event["breach_id"]
            }
            assert len(first_ids) == 1  # every try of one delivery carries the same webhook-id
            (first_state,) = states(first_event)
            assert first_state.attempts >= 3
            first_answers = [
                r.answered for r in receiver.requests if r.headers["webhook-id"] in first_ids
            ]
            # failed twice (once before the kill), then delivered once; an attempt cut by
            # the kill may add a 500 but never a second 200
            assert first_answers[:2] == [500, 500]
            assert first_answers.count(200) == 1
        finally:
            pool.close()
    assert "Traceback" not in log.read_text()
    assert SECRET_KEY not in log.read_text()
    assert os.environ.get("AETHERIS_SECRET_KEY") != SECRET_KEY
