"""The WebSocket protocol on real Redis and PostgreSQL: tickets, ownership, snapshot and
updates, revocation, a slow client dropped while a fast one keeps receiving."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import httpx
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from api.realtime import RealtimeLimits
from infra.db.pool import Pool
from infra.live.redis_store import RedisLive
from schemas import event_json
from tests.integration.realtime.conftest import (
    ORIGIN,
    PASSWORD,
    Server,
    breach,
    closed_with,
    next_message,
    open_stream,
    post,
    sign_up,
    standing,
    start_server,
    status_change,
    ticket,
)


def test_snapshot_then_state_breach_and_status_in_order(server: Server, live: RedisLive) -> None:
    trader = sign_up(server.base)
    account = trader.accounts[0]
    live.publish([standing(account, equity=98_000.0, daily_used=2_000.0)])  # seq 1

    async def scenario() -> None:
        stream = await open_stream(server.ws, ticket(server.base, trader), account)
        snapshot = await next_message(stream, "snapshot")
        assert snapshot["account_id"] == account
        assert snapshot["seq"] == 1
        assert snapshot["state"]["equity"] == 98_000.0
        assert snapshot["state"]["rules"][0]["headroom_breach"] == 3_000.0

        live.publish(
            [
                breach(account, 1),
                standing(account, equity=97_400.0, daily_used=2_600.0, daily_level=1),
                breach(account, 3),
                status_change(account, "locked"),
            ]
        )
        first = json.loads(await stream.recv())
        assert first["kind"] == "breach" and first["breach"]["level"] == 1
        state = json.loads(await stream.recv())
        assert state["kind"] == "state" and state["seq"] == 2
        assert state["state"]["rules"][0]["level"] == 1
        level3 = json.loads(await stream.recv())
        assert level3 == {
            "kind": "breach",
            "breach": json.loads(event_json(breach(account, 3))),
        }
        locked = json.loads(await stream.recv())
        assert locked["kind"] == "status" and locked["status"]["status"] == "locked"
        await stream.close()

    asyncio.run(scenario())


def test_all_accounts_stream_snapshots_each_account_and_ignores_others(
    server: Server, live: RedisLive
) -> None:
    trader = sign_up(server.base, accounts=2)
    stranger = sign_up(server.base)
    first, second = trader.accounts
    live.publish([standing(second, equity=99_000.0)])

    async def scenario() -> None:
        stream = await open_stream(server.ws, ticket(server.base, trader))
        snapshots = [await next_message(stream, "snapshot") for _ in range(2)]
        by_account = {s["account_id"]: s for s in snapshots}
        assert by_account[first]["state"] is None and by_account[first]["seq"] == 0
        assert by_account[second]["state"]["equity"] == 99_000.0
        live.publish([breach(stranger.accounts[0], 3), breach(first, 2)])
        got = await next_message(stream, "breach")
        assert got["breach"]["account_id"] == first  # the stranger's breach never came
        await stream.close()

    asyncio.run(scenario())


def test_a_ticket_works_once(server: Server) -> None:
    trader = sign_up(server.base)
    once = ticket(server.base, trader)

    async def scenario() -> None:
        stream = await open_stream(server.ws, once, trader.accounts[0])
        await next_message(stream, "snapshot")
        again = await open_stream(server.ws, once, trader.accounts[0])
        assert await closed_with(again) == (
            1008,
            "the ticket is not valid (unknown, expired or already used)",
        )
        await stream.close()

    asyncio.run(scenario())


def test_user_b_ticket_cannot_open_user_a_stream(server: Server, live: RedisLive) -> None:
    alice = sign_up(server.base)
    bob = sign_up(server.base)
    live.publish([standing(alice.accounts[0], equity=91_000.0)])

    async def scenario() -> None:
        stolen = await open_stream(server.ws, ticket(server.base, bob), alice.accounts[0])
        assert await closed_with(stolen) == (1008, "account not found")
        missing = await open_stream(server.ws, ticket(server.base, bob), "acc_does_not_exist")
        assert await closed_with(missing) == (1008, "account not found")
        # Bob's stream of all his accounts never carries Alice's.
        mine = await open_stream(server.ws, ticket(server.base, bob))
        snapshot = await next_message(mine, "snapshot")
        assert snapshot["account_id"] == bob.accounts[0]
        live.publish([breach(alice.accounts[0], 3), breach(bob.accounts[0], 1)])
        got = await next_message(mine, "breach")
        assert got["breach"]["account_id"] == bob.accounts[0]
        await mine.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ("not json", 'the first message must be {"type": "auth", "ticket": "…"}'),
        (json.dumps({"type": "auth"}), 'the first message must be {"type": "auth", "ticket": "…"}'),
        (
            json.dumps({"type": "auth", "ticket": "forged"}),
            "the ticket is not valid (unknown, expired or already used)",
        ),
        (
            json.dumps({"type": "auth", "ticket": "x" * 300}),
            'the first message must be {"type": "auth", "ticket": "…"}',
        ),
    ],
)
def test_a_bad_first_message_is_refused(server: Server, first: str, reason: str) -> None:
    async def scenario() -> None:
        stream = await connect(f"{server.ws}/ws/realtime", open_timeout=10)
        await stream.send(first)
        assert await closed_with(stream) == (1008, reason)

    asyncio.run(scenario())


def test_an_oversized_first_message_is_refused(server: Server) -> None:
    async def scenario() -> None:
        stream = await connect(f"{server.ws}/ws/realtime", open_timeout=10)
        await stream.send(json.dumps({"type": "auth", "ticket": "t", "pad": "x" * 10_000}))
        assert await closed_with(stream) == (1009, "the first message is too big")

    asyncio.run(scenario())


def test_a_foreign_origin_is_refused_and_an_allowed_one_accepted(server: Server) -> None:
    trader = sign_up(server.base)

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                f"{server.ws}/ws/realtime",
                origin=Origin("https://evil.example"),
                open_timeout=10,
            )
        assert refused.value.response.status_code == 403
        stream = await open_stream(
            server.ws,
            ticket(server.base, trader),
            origin=Origin(ORIGIN),
        )
        await next_message(stream, "snapshot")
        await stream.close()

    asyncio.run(scenario())


def test_an_expired_ticket_is_refused(pool: Pool, redis_url: str, redis_prefix: str) -> None:
    short = start_server(pool, redis_url, redis_prefix, ticket_seconds=1)
    try:
        trader = sign_up(short.base)
        stale = ticket(short.base, trader)
        assert (
            httpx.post(
                f"{short.base}/api/v1/realtime/ticket", headers=trader.auth, timeout=10
            ).json()["expires_in"]
            == 1
        )

        async def scenario() -> None:
            await asyncio.sleep(2.5)  # past the ticket's Redis expiry
            stream = await open_stream(short.ws, stale, trader.accounts[0])
            code, _ = await closed_with(stream)
            assert code == 1008

        asyncio.run(scenario())
    finally:
        short.stop()


def test_a_ticket_needs_a_valid_access_token(server: Server) -> None:
    assert httpx.post(f"{server.base}/api/v1/realtime/ticket", timeout=10).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}
    answer = httpx.post(f"{server.base}/api/v1/realtime/ticket", headers=forged, timeout=10)
    assert answer.status_code == 401


def test_logout_closes_the_session_sockets_on_every_process(
    pool: Pool, redis_url: str, redis_prefix: str, server: Server
) -> None:
    other = start_server(pool, redis_url, redis_prefix)
    try:
        trader = sign_up(server.base)
        second_login = httpx.post(
            f"{server.base}/api/v1/auth/login",
            json={"email": trader.email, "password": PASSWORD},
            timeout=10,
        ).json()
        kept = {"Authorization": f"Bearer {second_login['access_token']}"}

        async def scenario() -> None:
            here = await open_stream(server.ws, ticket(server.base, trader), trader.accounts[0])
            there = await open_stream(other.ws, ticket(other.base, trader))
            other_session = await open_stream(
                other.ws,
                (await post(f"{other.base}/api/v1/realtime/ticket", headers=kept)).json()["ticket"],
            )
            for stream in (here, there, other_session):
                await next_message(stream, "snapshot")
            out = await post(f"{server.base}/api/v1/auth/logout", headers=trader.auth)
            assert out.status_code == 204
            ended = (1008, "the session has ended: sign in again")
            assert await closed_with(here) == ended
            assert await closed_with(there) == ended
            # The other login session is still open and still served.
            assert other_session.state.name == "OPEN"
            await other_session.close()

        asyncio.run(scenario())
    finally:
        other.stop()


def test_a_password_change_closes_every_socket_of_the_user(server: Server) -> None:
    trader = sign_up(server.base)

    async def scenario() -> None:
        stream = await open_stream(server.ws, ticket(server.base, trader))
        await next_message(stream, "snapshot")
        changed = await post(
            f"{server.base}/api/v1/auth/password",
            headers=trader.auth,
            json={"current_password": PASSWORD, "new_password": "an entirely new passphrase 42"},
        )
        assert changed.status_code == 204, changed.text
        assert await closed_with(stream) == (1008, "the session has ended: sign in again")

    asyncio.run(scenario())


def test_a_replayed_refresh_token_closes_its_session_sockets(server: Server) -> None:
    trader = sign_up(server.base)

    async def scenario() -> None:
        stream = await open_stream(server.ws, ticket(server.base, trader))
        await next_message(stream, "snapshot")
        body = {"refresh_token": trader.refresh}
        assert (await post(f"{server.base}/api/v1/auth/refresh", json=body)).is_success
        replayed = await post(f"{server.base}/api/v1/auth/refresh", json=body)
        assert replayed.status_code == 401
        assert await closed_with(stream) == (1008, "the session has ended: sign in again")

    asyncio.run(scenario())


def test_a_slow_client_is_dropped_while_a_fast_one_keeps_receiving(
    pool: Pool, redis_url: str, redis_prefix: str, live: RedisLive
) -> None:
    limits = RealtimeLimits(queue_size=256, send_timeout_seconds=60)
    small = start_server(pool, redis_url, redis_prefix, limits=limits)
    try:
        trader = sign_up(small.base)
        account = trader.accounts[0]
        # 3,000 messages of 8,000 characters: 24 MB, several times what the kernel may
        # buffer for one loopback connection (tcp_wmem's maximum is 4 MB on usual
        # kernels) plus the server's queue, so the slow client must fall behind.
        padding = base64.b64encode(os.urandom(6_000)).decode()  # 8,000 characters
        count = 3_000

        async def scenario() -> None:
            fast = await open_stream(small.ws, ticket(small.base, trader), account)
            # The slow client's socket takes almost nothing into its buffer, and it never
            # reads: what the server sends piles up on the server's side.
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
            raw.connect(("127.0.0.1", int(small.base.rsplit(":", 1)[1])))
            slow = await connect(
                f"{small.ws}/ws/realtime/{account}",
                sock=raw,
                open_timeout=10,
                max_queue=4,
                compression=None,
            )
            await slow.send(json.dumps({"type": "auth", "ticket": ticket(small.base, trader)}))
            await next_message(fast, "snapshot")

            # Bursts as the pipeline sends them; the next goes out once the fast client
            # has read the last, so the fast client is never behind by more than a burst.
            received: list[dict[str, Any]] = []
            for start in range(0, count, 50):
                burst = [
                    breach(account, 1, number, message=padding)
                    for number in range(start, start + 50)
                ]
                await asyncio.to_thread(live.publish, burst)
                while len(received) < start + 50:
                    message = json.loads(await asyncio.wait_for(fast.recv(), 30))
                    if message["kind"] == "breach":
                        received.append(message)
            assert [m["breach"]["breach_id"] for m in received] == [
                f"{account}-1-{n}" for n in range(count)
            ]
            assert small.hub.dropped_slow >= 1
            # Now the slow client reads: what was sent before, then the close.
            assert await closed_with(slow, within=30) == (
                1013,
                "the client does not keep up: reconnect",
            )
            await fast.close()

        asyncio.run(scenario())
    finally:
        small.stop()


def test_the_risk_overview_totals_the_users_accounts(server: Server, live: RedisLive) -> None:
    trader = sign_up(server.base, accounts=3)
    first, second, unreported = trader.accounts
    # first: equity 97,000, daily loss used 3,000 of 5,000 (level 1 this day): headroom
    # to level 3 is 2,000 (daily) and 7,000 (max loss 3,000 of 10,000): loss to breach 2,000.
    # second: equity 99,500, daily 500 used: headroom 4,500 and 9,500: loss to breach 4,500.
    # USD totals: balance 98,000 + 100,000, equity 97,000 + 99,500, loss 2,000 + 4,500.
    live.publish(
        [
            standing(first, equity=97_000.0, balance=98_000.0, daily_used=3_000.0, daily_level=1),
            standing(second, equity=99_500.0, balance=100_000.0, daily_used=500.0),
        ]
    )
    answer = httpx.get(f"{server.base}/api/v1/risk", headers=trader.auth, timeout=10)
    assert answer.status_code == 200, answer.text
    overview = answer.json()
    by_id = {a["account_id"]: a for a in overview["accounts"]}
    assert by_id[first]["loss_to_breach"] == 2_000.0
    assert by_id[first]["open_breaches"] == [{"rule": "max_daily_loss", "level": 1}]
    assert [r["headroom_breach"] for r in by_id[first]["rules"]] == [2_000.0, 7_000.0]
    assert by_id[second]["loss_to_breach"] == 4_500.0
    assert by_id[unreported]["reported"] is False
    totals = overview["totals"]
    assert totals["accounts"] == 3 and totals["reported"] == 2
    assert totals["open_breaches"] == 1
    assert totals["by_worst_level"] == {"0": 1, "1": 1, "2": 0, "3": 0}
    assert totals["currencies"] == [
        {
            "currency": "USD",
            "accounts": 3,
            "reported": 2,
            "balance": 198_000.0,
            "equity": 196_500.0,
            "loss_to_breach": 6_500.0,
        }
    ]
    # Another user sees none of it.
    stranger = sign_up(server.base, accounts=0)
    theirs = httpx.get(f"{server.base}/api/v1/risk", headers=stranger.auth, timeout=10).json()
    assert theirs["accounts"] == [] and theirs["totals"]["accounts"] == 0
    assert httpx.get(f"{server.base}/api/v1/risk", timeout=10).status_code == 401


def test_accounts_show_the_standing_from_redis(server: Server, live: RedisLive) -> None:
    trader = sign_up(server.base)
    account = trader.accounts[0]
    live.publish([standing(account, equity=96_000.0, status="locked")])
    one = httpx.get(f"{server.base}/api/v1/accounts/{account}", headers=trader.auth, timeout=10)
    assert one.json()["standing"]["equity"] == 96_000.0
    assert one.json()["standing"]["status"] == "locked"
    listed = httpx.get(f"{server.base}/api/v1/accounts", headers=trader.auth, timeout=10).json()
    assert [a["standing"]["seq"] for a in listed] == [1]


def test_the_redis_ticket_is_stored_hashed_and_expires(
    server: Server, redis_client: redis.Redis[bytes], redis_prefix: str
) -> None:
    trader = sign_up(server.base)
    value = ticket(server.base, trader)
    keys = list(redis_client.scan_iter(match=f"{redis_prefix}:ws-ticket:*"))
    assert len(keys) == 1
    assert value.encode() not in keys[0]
    assert 0 < redis_client.ttl(keys[0]) <= 30


@pytest.mark.parametrize("bad_id", ["x" * 200, "a%20b", "%00"])
def test_a_malformed_account_id_is_refused_like_a_missing_one(server: Server, bad_id: str) -> None:
    async def scenario() -> None:
        stream = await connect(f"{server.ws}/ws/realtime/{bad_id}", open_timeout=10)
        assert await closed_with(stream) == (1008, "account not found")

    asyncio.run(scenario())


def test_a_path_outside_the_stream_routes_is_refused_at_the_handshake(server: Server) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{server.ws}/ws/realtime/..%2F..%2Fetc", open_timeout=10)
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())


def test_a_session_ended_without_a_notice_is_closed_at_its_next_check(
    pool: Pool, redis_url: str, redis_prefix: str
) -> None:
    # As if the revocation notice was lost (Redis down at logout): only the database knows.
    checking = start_server(
        pool, redis_url, redis_prefix, limits=RealtimeLimits(session_check_seconds=0.5)
    )
    try:
        trader = sign_up(checking.base)
        session_id = checking.services.tokens.read(trader.access).session_id

        async def scenario() -> None:
            stream = await open_stream(checking.ws, ticket(checking.base, trader))
            await next_message(stream, "snapshot")
            await asyncio.to_thread(checking.services.users.revoke_session, session_id, "test")
            assert await closed_with(stream, within=20) == (
                1008,
                "the session has ended: sign in again",
            )

        asyncio.run(scenario())
    finally:
        checking.stop()
