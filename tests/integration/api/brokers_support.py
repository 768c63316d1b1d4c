"""The broker side of the test API on the real services: PostgreSQL stores, the Kafka
publisher of this test's topics, an rq queue named after this test's Redis prefix."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from aetheris.brokers import MetaTraderIngest
from api.bridgeauth import sign
from api.brokerports import BrokerServices
from connectors.statements.registry import FORMATS
from infra.bus import EventPublisher, Topics
from infra.bus.kafka import KafkaBus
from infra.db.brokers import PostgresBridge, PostgresBrokerConnections, PostgresSyncJobs
from infra.db.pool import Pool
from infra.jobs import RqJobQueue
from infra.secrets import SecretBox
from schemas import BalanceEvent, TradeEvent, parse_event
from tests.integration.api.conftest import ACCOUNT, Api, User

BRIDGE_MAX_BYTES = 16_384


def attach_brokers(
    api: Api, pool: Pool, kafka: KafkaBus, topics: Topics, redis_url: str
) -> tuple[BrokerServices, redis.Redis[bytes]]:
    box = api.services.cipher
    assert isinstance(box, SecretBox)
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url, socket_timeout=5)
    publisher = EventPublisher(kafka.publisher(), topics)
    brokers = BrokerServices(
        connections=PostgresBrokerConnections(pool, box),
        bridge=PostgresBridge(pool, box),
        ingest=MetaTraderIngest(pool, publisher),
        jobs=PostgresSyncJobs(pool),
        queue=RqJobQueue(client, f"sync-{api.redis_prefix}", retry_intervals=(0, 0)),
        bridge_window_seconds=300,
        bridge_max_body_bytes=BRIDGE_MAX_BYTES,
        upload_max_bytes=200_000,
        formats=("auto", *sorted(FORMATS)),
    )
    api.services.brokers = brokers
    api.services.closers.extend([publisher.close, client.close])
    return brokers, client


def create_account(api: Api, user: User) -> str:
    response = api.client.post("/api/v1/accounts", headers=user.auth, json=ACCOUNT)
    assert response.status_code == 201, response.text
    account_id: str = response.json()["id"]
    return account_id


def issue_key(api: Api, user: User, account_id: str) -> str:
    response = api.client.post(f"/api/v1/accounts/{account_id}/bridge-key", headers=user.auth)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def server(hour: int, minute: int) -> int:
    """Trade-server seconds of a wall time on 2026-03-02 (the server is UTC+2)."""
    return int(datetime(2026, 3, 2, hour, minute, tzinfo=UTC).timestamp())


def deal(deal_id: str, position: str, hour: int, minute: int, **fields: Any) -> dict[str, Any]:
    return {"deal": deal_id, "position": position, "time": server(hour, minute), **fields}


# By hand (docs in tests/unit/connectors/test_mt5_bridge.py): position 5001 closed in two
# parts, pnl 80 + 60 - 7.00 commission - 1.20 swap = 131.80; position 5002 still open;
# a 5,000 deposit; one equity snapshot.
DEALS = [
    deal("9001", "", 9, 0, type="balance", profit=5000.0, comment="Deposit"),
    deal("1", "5001", 10, 0, type="buy", entry="in", symbol="EURUSD", volume=1.0,
         price=1.085, commission=-3.5),
    deal("2", "5001", 10, 30, type="sell", entry="out", symbol="EURUSD", volume=0.4,
         price=1.087, commission=-1.4, profit=80.0),
    deal("3", "5001", 10, 45, type="sell", entry="out", symbol="EURUSD", volume=0.6,
         price=1.086, commission=-2.1, swap=-1.2, profit=60.0),
    deal("4", "5002", 10, 50, type="sell", entry="in", symbol="GBPUSD", volume=0.5,
         price=1.27, commission=-1.75),
]  # fmt: skip
EQUITY = [{"time": server(10, 55), "balance": 105131.8, "equity": 105120.0}]


def batch_body(batch_id: str, deals: list[dict[str, Any]] | None = None) -> bytes:
    return json.dumps(
        {
            "batch_id": batch_id,
            "login": "12345678",
            "server": "Demo-Server",
            "currency": "USD",
            "server_offset_seconds": 7200,
            "deals": DEALS if deals is None else deals,
            "equity": EQUITY,
        }
    ).encode()


def post_batch(
    api: Api,
    account_id: str,
    key: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    ts = str(timestamp if timestamp is not None else int(api.clock.now.timestamp()))
    return api.client.post(
        "/api/v1/bridge/metatrader",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Aetheris-Account": account_id,
            "X-Aetheris-Timestamp": ts,
            "X-Aetheris-Signature": signature or sign(key.encode(), ts, body),
        },
    )


def account_events(
    kafka: KafkaBus, topic: str, account_id: str, *, at_least: int
) -> list[TradeEvent | BalanceEvent]:
    from tests.integration.kafka.support import read_topic  # noqa: PLC0415

    found: list[TradeEvent | BalanceEvent] = []
    for message in read_topic(kafka, topic, at_least=at_least, timeout=30, quiet=1.5):
        event = parse_event(message.value or b"", topic)
        if isinstance(event, TradeEvent | BalanceEvent) and event.account_id == account_id:
            found.append(event)
    return found
