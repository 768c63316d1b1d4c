"""Sync jobs on the real Redis (rq), PostgreSQL and Kafka: a statement uploaded through
the API is imported by the worker (stored and published once, a second upload adds
nothing), a stored OANDA connection is polled once (a 500 retried), progress and the
sync log are reported, and another user's job or account is 404."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import SimpleWorker

from aetheris.syncjobs import SyncContext, set_context
from api.brokerports import BrokerServices
from infra.bus import EventPublisher, Topics
from infra.bus.kafka import KafkaBus
from infra.db.pool import Pool
from infra.jobs import RqJobQueue
from infra.notify.ssrf import parse_allowed_networks
from infra.secrets import SecretBox
from schemas import TradeEvent
from tests.integration.api.brokers_support import account_events, attach_brokers, create_account
from tests.integration.api.conftest import Api, User
from tests.integration.kafka.oanda_server import FakeOanda, Fault
from tests.integration.kafka.test_oanda_poller import HISTORY, OANDA_ACCOUNT, TOKEN

MT4 = Path(__file__).resolve().parents[2] / "data/statements/mt4-html/statement-2150977.htm"


@pytest.fixture
def sync_api(
    api: Api, pool: Pool, kafka: KafkaBus, topics: Topics, redis_url: str
) -> Iterator[tuple[Api, BrokerServices, redis.Redis[bytes]]]:
    brokers, client = attach_brokers(api, pool, kafka, topics, redis_url)
    box = api.services.cipher
    assert isinstance(box, SecretBox)
    publisher = EventPublisher(kafka.publisher(), topics)
    set_context(
        SyncContext(
            pool=pool,
            publisher=publisher,
            box=box,
            oanda_api_url="http://127.0.0.1:9",
            allowed_networks=parse_allowed_networks("127.0.0.0/8"),
            http_timeout=2.0,
        )
    )
    yield api, brokers, client
    set_context(None)
    publisher.close()


def work(brokers: BrokerServices, client: redis.Redis[bytes], prefix: str) -> None:
    """Run the queued jobs (and their immediate retries) in this process, then return."""
    queue = brokers.queue
    assert isinstance(queue, RqJobQueue)
    worker = SimpleWorker([queue.queue], connection=client, name=f"w-{prefix}-{uuid.uuid4().hex}")
    worker.work(burst=True)


def upload(api: Api, user: User, account_id: str, data: bytes, **params: str) -> Any:
    return api.client.post(
        f"/api/v1/brokers/sync/{account_id}/statement",
        params={"format": "mt4-html", "timezone": "GMT+2/+3-US", **params},
        content=data,
        headers={**user.auth, "Content-Type": "application/octet-stream"},
    )


def job(api: Api, user: User, job_id: str) -> dict[str, Any]:
    answer = api.client.get(f"/api/v1/brokers/sync/{job_id}", headers=user.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_an_uploaded_statement_is_imported_once_by_the_worker(
    sync_api: tuple[Api, BrokerServices, redis.Redis[bytes]],
    alice: User,
    bob: User,
    pool: Pool,
    kafka: KafkaBus,
    topics: Topics,
) -> None:
    api, brokers, client = sync_api
    account_id = create_account(api, alice)
    started = upload(api, alice, account_id, MT4.read_bytes(), filename="statement.htm")
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    queued = job(api, alice, job_id)
    assert (queued["status"], queued["progress"], queued["sync_log"]) == (
        "queued",
        {"rows_done": 0, "rows_total": None},
        None,
    )
    assert api.client.get(f"/api/v1/brokers/sync/{job_id}", headers=bob.auth).status_code == 404

    work(brokers, client, api.redis_prefix)
    done = job(api, alice, job_id)
    assert (done["status"], done["attempts"], done["error"]) == ("done", 1, None)
    log = done["sync_log"]
    # by hand (tests/integration/db/test_statement_import.py): 1001, 1002, 1005 closed and
    # 1007 open are new trades; the deposit and the withdrawal are new cash; row 26 (an
    # hour 25) is the one error, so the run is partial.
    assert (log["new"], log["duplicates"], log["status"]) == (4, 0, "partial")
    assert [e["row"] for e in log["errors"]] == [26]
    assert done["progress"]["rows_done"] == done["progress"]["rows_total"] > 0
    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT broker_trade_id, status FROM trades WHERE account_id = %s ORDER BY 1",
            (account_id,),
        ).fetchall()
        payload = conn.execute("SELECT payload FROM sync_jobs WHERE id = %s", (job_id,)).fetchone()
    assert stored == [("1001", "closed"), ("1002", "closed"), ("1005", "closed"), ("1007", "open")]
    assert payload == (None,)  # the file is not kept once the job is done

    again = upload(api, alice, account_id, MT4.read_bytes())
    assert again.status_code == 202
    work(brokers, client, api.redis_prefix)
    repeat = job(api, alice, again.json()["job_id"])
    assert repeat["status"] == "done"
    assert (repeat["sync_log"]["new"], repeat["sync_log"]["duplicates"]) == (0, 4)

    trades = [
        e for e in account_events(kafka, topics.events, account_id, at_least=4)
        if isinstance(e, TradeEvent)
    ]  # fmt: skip
    assert sorted(t.broker_trade_id for t in trades) == ["1001", "1002", "1005", "1007"]


def test_uploads_are_checked_before_a_job_starts(
    sync_api: tuple[Api, BrokerServices, redis.Redis[bytes]], alice: User, bob: User
) -> None:
    api, brokers, client = sync_api
    account_id = create_account(api, alice)
    data = MT4.read_bytes()
    assert upload(api, bob, account_id, data).status_code == 404  # not bob's account
    assert upload(api, alice, "acc_nobody", data).status_code == 404
    assert upload(api, alice, account_id, data, format="word-doc").status_code == 422
    assert upload(api, alice, account_id, b"").status_code == 422
    assert upload(api, alice, account_id, b"x" * 200_001).status_code == 413
    assert upload(api, alice, account_id, data, filename="../etc/passwd").status_code == 422
    assert upload(api, alice, account_id, data, timezone="UTC\x00").status_code == 422
    unknown = api.client.get(f"/api/v1/brokers/sync/{uuid.uuid4()}", headers=alice.auth)
    assert unknown.status_code == 404
    assert api.client.get("/api/v1/brokers/sync/not-a-uuid", headers=alice.auth).status_code == 404
    assert api.client.get("/api/v1/brokers/sync/a%2Fb", headers=alice.auth).status_code in (
        404,
        422,
    )

    bad_zone = upload(api, alice, account_id, data, timezone="Mars/Olympus")
    assert bad_zone.status_code == 202
    work(brokers, client, api.redis_prefix)
    failed = job(api, alice, bad_zone.json()["job_id"])
    assert (failed["status"], failed["attempts"]) == ("failed", 1)  # bad input: no retry
    assert "timezone" in failed["error"]


def test_a_stored_oanda_connection_is_polled_once_with_a_retry(
    sync_api: tuple[Api, BrokerServices, redis.Redis[bytes]],
    alice: User,
    bob: User,
    kafka: KafkaBus,
    topics: Topics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api, brokers, client = sync_api
    oanda = FakeOanda(OANDA_ACCOUNT, TOKEN)
    try:
        oanda.transactions = list(HISTORY)
        oanda.balance, oanda.nav = "10002.9500", "10001.9500"
        oanda.faults.append(Fault(500))  # the first attempt fails; rq retries it
        account_id = create_account(api, alice)
        assert (
            api.client.post(f"/api/v1/brokers/sync/{account_id}", headers=alice.auth).status_code
            == 404
        )  # no stored REST connection yet
        created = api.client.post(
            f"/api/v1/accounts/{account_id}/brokers",
            headers=alice.auth,
            json={
                "kind": "rest",
                "broker": "oanda",
                "label": "practice",
                "settings": {
                    "broker_account": OANDA_ACCOUNT,
                    "api_url": oanda.url,
                    "since_transaction_id": 0,
                },
                "credentials": {"api_token": TOKEN},
            },
        )
        assert created.status_code == 201, created.text
        assert (
            api.client.post(f"/api/v1/brokers/sync/{account_id}", headers=bob.auth).status_code
            == 404
        )
        started = api.client.post(f"/api/v1/brokers/sync/{account_id}", headers=alice.auth)
        assert started.status_code == 202, started.text
        work(brokers, client, api.redis_prefix)
    finally:
        oanda.close()
    done = job(api, alice, started.json()["job_id"])
    assert (done["status"], done["attempts"]) == ("done", 2), done
    assert done["sync_log"]["source"] == f"rest:oanda:{OANDA_ACCOUNT}"
    # the same first run as tests/integration/kafka/test_oanda_poller.py: 4 new, no errors
    assert (done["sync_log"]["new"], done["sync_log"]["errors_total"]) == (4, 0)
    [connection] = api.client.get(
        f"/api/v1/accounts/{account_id}/brokers", headers=alice.auth
    ).json()
    assert connection["sync_status"] == "success" and connection["last_sync_at"] is not None
    events = account_events(kafka, topics.events, account_id, at_least=3)
    closed = [e for e in events if isinstance(e, TradeEvent) and e.status == "closed"]
    # by hand (tests/integration/kafka/test_oanda_poller.py): P&L 3.20 - 0.15 - 0.10 = 2.95
    [trade] = closed
    assert trade.broker_trade_id == "3"
    assert trade.pnl == pytest.approx(2.95)
    assert TOKEN not in caplog.text


def test_a_connection_to_a_private_address_is_refused_by_the_worker(
    sync_api: tuple[Api, BrokerServices, redis.Redis[bytes]], alice: User
) -> None:
    api, brokers, client = sync_api
    account_id = create_account(api, alice)
    created = api.client.post(
        f"/api/v1/accounts/{account_id}/brokers",
        headers=alice.auth,
        json={
            "kind": "rest",
            "broker": "oanda",
            "label": "internal",
            "settings": {"broker_account": OANDA_ACCOUNT, "api_url": "http://10.1.2.3:8080"},
            "credentials": {"api_token": TOKEN},
        },
    )
    assert created.status_code == 201
    started = api.client.post(f"/api/v1/brokers/sync/{account_id}", headers=alice.auth)
    work(brokers, client, api.redis_prefix)
    failed = job(api, alice, started.json()["job_id"])
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert "api_url refused" in failed["error"]


def test_an_unreachable_queue_is_503_and_the_job_is_marked_failed(
    sync_api: tuple[Api, BrokerServices, redis.Redis[bytes]], alice: User, pool: Pool
) -> None:
    api, brokers, _ = sync_api
    account_id = create_account(api, alice)
    nowhere: redis.Redis[bytes] = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, socket_timeout=1
    )  # nothing listens on port 1: a real refused connection
    brokers.queue = RqJobQueue(nowhere, f"sync-{api.redis_prefix}-nowhere")
    answer = upload(api, alice, account_id, MT4.read_bytes())
    assert answer.status_code == 503, answer.text
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT status, error, payload IS NULL FROM sync_jobs WHERE account_id = %s",
            (account_id,),
        ).fetchall()
    assert len(rows) == 1
    status, error, dropped = rows[0]
    assert (status, dropped) == ("failed", True)
    assert "did not take the job" in error
