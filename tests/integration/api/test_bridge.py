"""The MetaTrader bridge on the real PostgreSQL and Kafka: a signed batch lands once
(trades, cash, equity), and forged, stale, replayed, foreign-key and oversized batches
are refused with nothing stored or published."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from api.bridgeauth import sign
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.pool import Pool
from schemas import BalanceEvent, TradeEvent
from tests.integration.api.brokers_support import (
    BRIDGE_MAX_BYTES,
    account_events,
    attach_brokers,
    batch_body,
    create_account,
    issue_key,
    post_batch,
)
from tests.integration.api.conftest import Api, User


@pytest.fixture
def bridge_api(
    api: Api, pool: Pool, kafka: KafkaBus, topics: Topics, redis_url: str
) -> Iterator[Api]:
    attach_brokers(api, pool, kafka, topics, redis_url)
    yield api


def _stored(pool: Pool, account_id: str) -> dict[str, tuple[object, ...]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT broker_trade_id, status, quantity::float8, pnl::float8, commission::float8 "
            "FROM trades WHERE account_id = %s",
            (account_id,),
        ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_a_good_batch_lands_once_even_when_posted_twice(
    bridge_api: Api, alice: User, pool: Pool, kafka: KafkaBus, topics: Topics
) -> None:
    account_id = create_account(bridge_api, alice)
    key = issue_key(bridge_api, alice, account_id)

    first = post_batch(bridge_api, account_id, key, batch_body("batch-0001"))
    assert first.status_code == 200, first.text
    body = first.json()
    # 2 trades (5001 closed, 5002 open) + 1 deposit; the equity snapshot is a balance event
    assert (body["new"], body["duplicates"], body["errors"]) == (3, 0, [])
    assert body["status"] == "success"

    replayed = post_batch(bridge_api, account_id, key, batch_body("batch-0001"))
    assert replayed.status_code == 409
    assert "replay" in replayed.json()["detail"]

    # the EA sends the same deals again under a new batch id: all duplicates
    again = post_batch(bridge_api, account_id, key, batch_body("batch-0002"))
    assert again.status_code == 200, again.text
    assert (again.json()["new"], again.json()["duplicates"]) == (0, 3)

    stored = _stored(pool, account_id)
    assert stored["5001"] == ("closed", 1.0, pytest.approx(131.8), pytest.approx(-7.0))
    assert stored["5002"] == ("open", 0.5, None, pytest.approx(-1.75))
    with pool.connection() as conn:
        ticks = conn.execute(
            "SELECT balance::float8, equity::float8 FROM balance_ticks WHERE account_id = %s "
            "AND equity <> balance",
            (account_id,),
        ).fetchall()
        log = conn.execute(
            "SELECT status, trades_new, source FROM sync_logs WHERE id = %s",
            (body["sync_log_id"],),
        ).fetchone()
    assert (105131.8, 105120.0) in ticks
    assert log == ("success", 2, "import:bridge:batch-0001")

    events = account_events(kafka, topics.events, account_id, at_least=3)
    trades = [e for e in events if isinstance(e, TradeEvent)]
    assert sorted(t.broker_trade_id for t in trades) == ["5001", "5002"]  # published once
    snapshots = [e for e in events if isinstance(e, BalanceEvent) and e.equity == 105120.0]
    assert len(snapshots) == 2  # each accepted batch reports the terminal's equity


def test_forged_stale_foreign_and_oversized_batches_are_refused(
    bridge_api: Api, alice: User, bob: User, pool: Pool
) -> None:
    account_id = create_account(bridge_api, alice)
    key = issue_key(bridge_api, alice, account_id)
    bobs_account = create_account(bridge_api, bob)
    bobs_key = issue_key(bridge_api, bob, bobs_account)
    body = batch_body("batch-0003")
    now = int(bridge_api.clock.now.timestamp())

    forged = post_batch(bridge_api, account_id, key, body, signature="v1=" + "ab" * 32)
    stale = post_batch(bridge_api, account_id, key, body, timestamp=now - 301)
    future = post_batch(bridge_api, account_id, key, body, timestamp=now + 301)
    foreign_key = post_batch(bridge_api, account_id, bobs_key, body)
    unknown = post_batch(bridge_api, "acc_nobody", key, body)
    unsigned = bridge_api.client.post(
        "/api/v1/bridge/metatrader", content=body, headers={"X-Aetheris-Account": account_id}
    )
    for answer in (forged, stale, future, foreign_key, unknown, unsigned):
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "AetherisBridge"
    assert "does not verify" in forged.json()["detail"]
    assert forged.json() == foreign_key.json() == unknown.json()  # no hint which half
    assert "clock" in stale.json()["detail"]

    padding = [{"deal": str(i), "time": 0, "type": "credit"} for i in range(400)]
    big = batch_body("batch-0004", deals=padding)
    assert len(big) > BRIDGE_MAX_BYTES
    oversized = post_batch(bridge_api, account_id, key, big)
    assert oversized.status_code == 413

    assert _stored(pool, account_id) == {}
    # a refused batch was not remembered: signed properly it is taken
    taken = post_batch(bridge_api, account_id, key, body)
    assert taken.status_code == 200, taken.text


def test_a_new_key_replaces_the_old_one_and_only_the_owner_gets_one(
    bridge_api: Api, alice: User, bob: User
) -> None:
    account_id = create_account(bridge_api, alice)
    old = issue_key(bridge_api, alice, account_id)
    new = issue_key(bridge_api, alice, account_id)
    assert old != new
    stale_key = post_batch(bridge_api, account_id, old, batch_body("batch-0005"))
    assert stale_key.status_code == 401
    assert post_batch(bridge_api, account_id, new, batch_body("batch-0005")).status_code == 200

    others = bridge_api.client.post(f"/api/v1/accounts/{account_id}/bridge-key", headers=bob.auth)
    assert others.status_code == 404
    still = post_batch(bridge_api, account_id, new, batch_body("batch-0006"))
    assert still.status_code == 200  # bob's attempt changed nothing


def test_a_signed_body_that_is_not_a_batch_is_422_and_its_id_is_free_again(
    bridge_api: Api, alice: User
) -> None:
    account_id = create_account(bridge_api, alice)
    key = issue_key(bridge_api, alice, account_id)
    not_json = post_batch(bridge_api, account_id, key, b"{nope")
    assert not_json.status_code == 422
    bad = b'{"batch_id": "batch-0007", "deals": "many"}'
    refused = post_batch(bridge_api, account_id, key, bad)
    assert refused.status_code == 422
    assert "deals" in refused.json()["detail"]
    good = post_batch(bridge_api, account_id, key, batch_body("batch-0007"))
    assert good.status_code == 200, good.text


def test_the_signature_covers_the_exact_bytes(bridge_api: Api, alice: User) -> None:
    account_id = create_account(bridge_api, alice)
    key = issue_key(bridge_api, alice, account_id)
    body = batch_body("batch-0008")
    ts = str(int(bridge_api.clock.now.timestamp()))
    tampered = body.replace(b"1.085", b"1.095")
    answer = post_batch(
        bridge_api, account_id, key, tampered, signature=sign(key.encode(), ts, body)
    )
    assert answer.status_code == 401


def test_nul_characters_are_reported_not_a_server_error(bridge_api: Api, alice: User) -> None:
    """PostgreSQL text and jsonb cannot hold NUL: refused at the border, never a 500."""
    account_id = create_account(bridge_api, alice)
    key = issue_key(bridge_api, alice, account_id)
    envelope = json.loads(batch_body("batch-0009"))
    envelope["server"] = "Demo\u0000Server"
    refused = post_batch(bridge_api, account_id, key, json.dumps(envelope).encode())
    assert refused.status_code == 422, refused.text
    envelope = json.loads(batch_body("batch-0010"))
    envelope["deals"][0]["comment"] = "Deposit\u0000"
    partly = post_batch(bridge_api, account_id, key, json.dumps(envelope).encode())
    assert partly.status_code == 200, partly.text
    assert [e["where"] for e in partly.json()["errors"]] == ["deals[0].comment"]


def test_an_equity_only_batch_stores_the_snapshot(bridge_api: Api, alice: User, pool: Pool) -> None:
    """What the EA sends every minute when nothing traded: one snapshot, no deals."""
    account_id = create_account(bridge_api, alice)
    key = issue_key(bridge_api, alice, account_id)
    answer = post_batch(bridge_api, account_id, key, batch_body("batch-0011", deals=[]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["new"], body["duplicates"], body["balance_events"]) == (0, 0, 1)
    with pool.connection() as conn:
        ticks = conn.execute(
            "SELECT balance::float8, equity::float8 FROM balance_ticks WHERE account_id = %s",
            (account_id,),
        ).fetchall()
        log = conn.execute(
            "SELECT status, ticks_stored, balance_events FROM sync_logs WHERE id = %s",
            (body["sync_log_id"],),
        ).fetchone()
    assert ticks == [(105131.8, 105120.0)]
    assert log == ("success", 1, 1)
