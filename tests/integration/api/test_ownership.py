"""Accounts, trades and trading sessions belong to their users: every route that takes an
id answers 404 for another user's id exactly as for a missing one, and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from api.ports import EventSink
from infra.bus import BEGINNING
from infra.bus.kafka import KafkaBus
from infra.db.pool import Pool
from infra.db.sinks import PostgresSink
from infra.live import standing_key
from infra.rulesets import RulesetCatalog
from risk_engine import Armor
from schemas import RULE_NAMES, AccountEvent, BalanceEvent, TradeEvent, parse_event
from schemas.api import trade_id
from schemas.state import AccountSnapshot
from tests.integration.api.conftest import ACCOUNT, Api, User

TRADE = {
    "status": "closed",
    "symbol": "EURUSD",
    "side": "long",
    "quantity": 1.0,
    "entry_price": 1.0850,
    "exit_price": 1.0800,
    "entry_time": "2026-03-02T09:05:00Z",
    "exit_time": "2026-03-02T09:40:00Z",
    "pnl": -500.0,
    "commission": -7.0,
}


def _create_account(api: Api, user: User, **fields: Any) -> dict[str, Any]:
    response = api.client.post("/api/v1/accounts", headers=user.auth, json={**ACCOUNT, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _add_trade(api: Api, user: User, account_id: str, **fields: Any) -> dict[str, Any]:
    response = api.client.post(
        "/api/v1/trades", headers=user.auth, json={"account_id": account_id, **TRADE, **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _bus_events(kafka: KafkaBus, topic: str, wanted: int) -> list[AccountEvent | TradeEvent]:
    reader = kafka.reader(topic, dict.fromkeys(range(4), BEGINNING))
    found: list[AccountEvent | TradeEvent] = []
    try:
        for _ in range(50):
            for message in reader.read(100, 0.2):
                event = parse_event(message.value or b"", topic)
                assert isinstance(event, AccountEvent | TradeEvent)
                found.append(event)
            if len(found) >= wanted:
                break
    finally:
        reader.close()
    return found


def test_creating_an_account_publishes_its_account_event(
    api: Api, alice: User, kafka: KafkaBus
) -> None:
    created = _create_account(api, alice, overrides={"max_daily_loss": {"limit_percent": 4}})
    assert created["id"].startswith("acc_")
    assert created["standing"] is None
    assert created["ruleset"] == "ftmo-2step"
    events = _bus_events(kafka, api.topics.events, 1)
    assert events == [
        AccountEvent(
            account_id=created["id"],
            ruleset="ftmo-2step",
            initial_balance=100_000,
            currency="USD",
            overrides={"max_daily_loss": {"limit_percent": 4}},
            name="FTMO challenge",
        )
    ]


def test_an_edit_publishes_what_the_engine_must_know_and_a_rename_of_nothing_does_not(
    api: Api, alice: User, kafka: KafkaBus
) -> None:
    created = _create_account(api, alice)
    same = api.client.put(
        f"/api/v1/accounts/{created['id']}", headers=alice.auth, json={"broker": "mt5"}
    )
    assert same.status_code == 200 and same.json()["broker"] == "mt5"
    changed = api.client.put(
        f"/api/v1/accounts/{created['id']}",
        headers=alice.auth,
        json={"ruleset": "ftmo-1step", "initial_balance": 50_000},
    )
    assert changed.status_code == 200
    assert changed.json()["ruleset"] == "ftmo-1step"
    events = _bus_events(kafka, api.topics.events, 2)
    assert [(e.ruleset, e.initial_balance) for e in events if isinstance(e, AccountEvent)] == [
        ("ftmo-2step", 100_000),
        ("ftmo-1step", 50_000),
    ]


def test_unknown_rulesets_and_overrides_that_do_not_fit_are_422(api: Api, alice: User) -> None:
    for fields in (
        {"ruleset": "no-such-firm"},
        {"ruleset": "../../etc/passwd"},
        {"overrides": {"max_daily_loss": {"limit_percent": "lots"}}},
    ):
        response = api.client.post(
            "/api/v1/accounts", headers=alice.auth, json={**ACCOUNT, **fields}
        )
        assert response.status_code == 422, fields


def test_the_standing_comes_from_the_stream_side(api: Api, alice: User, redis_url: str) -> None:
    created = _create_account(api, alice)
    snapshot = AccountSnapshot(
        account_id=created["id"],
        ruleset="ftmo-2step",
        currency="USD",
        initial_balance=100_000,
        balance=99_000,
        equity=98_500,
        start_of_day_balance=100_000,
        start_of_day_equity=100_000,
        highest_eod_balance=100_000,
        peak_equity=100_000,
        rules=(),
        events_applied=3,
        duplicate_trades=0,
        breaches_emitted=0,
    )
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(standing_key(api.redis_prefix, created["id"]), snapshot.model_dump_json())
    finally:
        client.close()
    one = api.client.get(f"/api/v1/accounts/{created['id']}", headers=alice.auth).json()
    assert one["standing"]["equity"] == 98_500
    listed = api.client.get("/api/v1/accounts", headers=alice.auth).json()
    assert [a["standing"]["balance"] for a in listed] == [99_000]


def test_another_users_account_is_404_everywhere_and_unchanged(
    api: Api, alice: User, bob: User, pool: Pool
) -> None:
    account = _create_account(api, alice)["id"]
    trade = _add_trade(api, alice, account, broker_trade_id="T-1")
    session = api.client.post(
        "/api/v1/sessions", headers=alice.auth, json={"account_id": account}
    ).json()
    missing_account = "acc_" + "0" * 24
    missing_trade = trade_id(missing_account, "T-1")

    def answers(user: User, account_id: str, trade_key: str, session_id: int) -> list[Any]:
        calls = [
            ("GET", f"/api/v1/accounts/{account_id}", None),
            ("PUT", f"/api/v1/accounts/{account_id}", {"name": "mine now"}),
            ("GET", f"/api/v1/accounts/{account_id}/daily", None),
            ("GET", f"/api/v1/trades?account_id={account_id}", None),
            ("POST", "/api/v1/trades", {"account_id": account_id, **TRADE}),
            ("GET", f"/api/v1/trades/{trade_key}", None),
            ("PUT", f"/api/v1/trades/{trade_key}", {"notes": "mine"}),
            ("DELETE", f"/api/v1/trades/{trade_key}", None),
            ("POST", "/api/v1/sessions", {"account_id": account_id}),
            ("GET", f"/api/v1/sessions?account_id={account_id}", None),
            ("GET", f"/api/v1/sessions/{session_id}", None),
            ("POST", f"/api/v1/sessions/{session_id}/end", None),
            ("GET", f"/api/v1/alerts?account_id={account_id}", None),
            ("DELETE", f"/api/v1/accounts/{account_id}", None),
        ]
        found = []
        for method, url, body in calls:
            response = api.client.request(method, url, headers=user.auth, json=body)
            found.append((method, url.split("?")[0], response.status_code, response.json()))
        return found

    foreign = answers(bob, account, trade["id"], session["id"])
    missing = answers(bob, missing_account, missing_trade, 2**62)
    assert {status for _, _, status, _ in foreign} == {404}
    # Bob cannot even tell that the account exists: the same answers as for a missing one.
    assert [(m, s, b) for m, _, s, b in foreign] == [(m, s, b) for m, _, s, b in missing]
    assert api.client.get("/api/v1/accounts", headers=bob.auth).json() == []

    # And nothing changed for Alice.
    mine = api.client.get(f"/api/v1/accounts/{account}", headers=alice.auth).json()
    assert mine["name"] == ACCOUNT["name"]
    stored = api.client.get(f"/api/v1/trades/{trade['id']}", headers=alice.auth).json()
    assert stored["notes"] is None
    ended = api.client.get(f"/api/v1/sessions/{session['id']}", headers=alice.auth).json()
    assert ended["ended_at"] is None
    with pool.connection() as conn:
        count = conn.execute(
            "SELECT count(*) FROM trades WHERE account_id = %s", (account,)
        ).fetchone()
    assert count == (1,)


def test_without_a_token_every_resource_route_is_401(api: Api) -> None:
    for method, url in (
        ("GET", "/api/v1/accounts"),
        ("POST", "/api/v1/accounts"),
        ("GET", "/api/v1/trades?account_id=A1"),
        ("GET", "/api/v1/sessions/1"),
        ("GET", "/api/v1/alerts"),
    ):
        assert api.client.request(method, url).status_code == 401, url


def test_mass_assignment_of_an_owner_or_id_is_422(api: Api, alice: User, bob: User) -> None:
    for extra in ({"owner_id": bob.id}, {"user_id": bob.id}, {"id": "acc_mine"}):
        response = api.client.post(
            "/api/v1/accounts", headers=alice.auth, json={**ACCOUNT, **extra}
        )
        assert response.status_code == 422
    account = _create_account(api, alice)["id"]
    edit = api.client.put(
        f"/api/v1/accounts/{account}", headers=alice.auth, json={"owner_id": bob.id}
    )
    assert edit.status_code == 422
    trade = api.client.post(
        "/api/v1/trades",
        headers=alice.auth,
        json={"account_id": account, **TRADE, "source": "broker"},
    )
    assert trade.status_code == 422


def test_deleting_an_account_stops_monitoring_hides_it_and_keeps_its_history(
    api: Api, alice: User, pool: Pool, kafka: KafkaBus
) -> None:
    account = _create_account(api, alice)["id"]
    _add_trade(api, alice, account)
    assert api.client.delete(f"/api/v1/accounts/{account}", headers=alice.auth).status_code == 204
    # The last registration on the bus switches every rule off: the engine, which applies
    # it as it applies any account event, raises no more breaches for the account.
    registrations = [
        e for e in _bus_events(kafka, api.topics.events, 3) if isinstance(e, AccountEvent)
    ]
    first, last = registrations[0], registrations[-1]
    assert last.overrides == dict.fromkeys(RULE_NAMES)
    ticks = [
        BalanceEvent(
            account_id=account,
            ts=datetime(2026, 3, 2, hour, tzinfo=UTC),
            balance=balance,
            equity=balance,
        )
        for hour, balance in ((9, 100_000.0), (10, 50_000.0))
    ]
    # Under its rules a 50 % fall breaches; after the delete's registration, nothing does.
    monitored, stopped = Armor(RulesetCatalog()), Armor(RulesetCatalog())
    events: list[AccountEvent | BalanceEvent] = [first, *ticks]
    assert [b for e in events for b in monitored.process(e)] != []
    events = [last, *ticks]
    assert [b for e in events for b in stopped.process(e)] == []
    assert api.client.get(f"/api/v1/accounts/{account}", headers=alice.auth).status_code == 404
    assert api.client.delete(f"/api/v1/accounts/{account}", headers=alice.auth).status_code == 404
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT status, deleted_at IS NOT NULL, "
            "(SELECT count(*) FROM trades WHERE account_id = %s) "
            "FROM accounts WHERE account_id = %s",
            (account, account),
        ).fetchone()
    assert row == ("closed", True, 1)


# Trades --------------------------------------------------------------------------------


def test_a_manual_trade_is_stored_and_published(api: Api, alice: User, kafka: KafkaBus) -> None:
    account = _create_account(api, alice)["id"]
    added = _add_trade(
        api, alice, account, broker_trade_id="T-9", tags=["breakout"], emotions=["FOMO"]
    )
    assert added["manual"] is True
    assert added["pnl"] == -500.0
    assert added["tags"] == ["breakout"]
    assert added["emotions"] == ["FOMO"]
    trades = [e for e in _bus_events(kafka, api.topics.events, 2) if isinstance(e, TradeEvent)]
    assert [(t.account_id, t.broker_trade_id, t.pnl) for t in trades] == [(account, "T-9", -500.0)]
    twice = api.client.post(
        "/api/v1/trades",
        headers=alice.auth,
        json={"account_id": account, **TRADE, "broker_trade_id": "T-9"},
    )
    assert twice.status_code == 409


def test_an_invalid_trade_is_422_with_the_reason(api: Api, alice: User) -> None:
    account = _create_account(api, alice)["id"]
    response = api.client.post(
        "/api/v1/trades",
        headers=alice.auth,
        json={"account_id": account, **TRADE, "exit_time": "2026-03-02T09:00:00Z"},
    )
    assert response.status_code == 422
    assert "before entry_time" in response.json()["detail"]
    no_exit = {k: v for k, v in TRADE.items() if k != "exit_price"}
    response = api.client.post(
        "/api/v1/trades", headers=alice.auth, json={"account_id": account, **no_exit}
    )
    assert response.status_code == 422
    assert "exit_price" in response.json()["detail"]


def test_journal_edits_and_deleting_only_manual_trades(api: Api, alice: User, pool: Pool) -> None:
    account = _create_account(api, alice)["id"]
    trade = _add_trade(api, alice, account)
    edited = api.client.put(
        f"/api/v1/trades/{trade['id']}",
        headers=alice.auth,
        json={"notes": "chased it", "tags": ["news", "news"], "emotions": ["REVENGE", "ANCHORING"]},
    )
    assert edited.status_code == 200
    assert edited.json()["notes"] == "chased it"
    assert edited.json()["tags"] == ["news"]
    assert edited.json()["emotions"] == ["ANCHORING", "REVENGE"]
    bad = api.client.put(
        f"/api/v1/trades/{trade['id']}", headers=alice.auth, json={"emotions": ["GREED"]}
    )
    assert bad.status_code == 422
    with pool.connection() as conn:
        categories = conn.execute(
            "SELECT tag, category FROM trade_tags WHERE account_id = %s ORDER BY tag", (account,)
        ).fetchall()
        # A trade the broker reported (not added by hand) cannot be deleted.
        conn.execute(
            "INSERT INTO trades (account_id, broker_trade_id, status, symbol, side, quantity, "
            "entry_price, entry_time) VALUES (%s, 'BROKER-1', 'open', 'XAUUSD', 'short', 1, "
            "2000, '2026-03-02T10:00:00Z')",
            (account,),
        )
    assert categories == [("ANCHORING", "bias"), ("REVENGE", "emotion")]
    broker = trade_id(account, "BROKER-1")
    assert api.client.delete(f"/api/v1/trades/{broker}", headers=alice.auth).status_code == 409
    assert api.client.delete(f"/api/v1/trades/{trade['id']}", headers=alice.auth).status_code == 204
    assert api.client.get(f"/api/v1/trades/{trade['id']}", headers=alice.auth).status_code == 404


def test_trade_list_filters_and_cursor_pagination(api: Api, alice: User) -> None:
    account = _create_account(api, alice)["id"]
    for index in range(5):
        _add_trade(
            api,
            alice,
            account,
            broker_trade_id=f"T-{index}",
            symbol="EURUSD" if index % 2 else "XAUUSD",
            entry_time=f"2026-03-0{index + 2}T09:05:00Z",
            exit_time=f"2026-03-0{index + 2}T09:40:00Z",
        )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"account_id": account, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get("/api/v1/trades", headers=alice.auth, params=params).json()
        seen.extend(item["broker_trade_id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["T-4", "T-3", "T-2", "T-1", "T-0"]
    assert pages == 3
    euro = api.client.get(
        "/api/v1/trades",
        headers=alice.auth,
        params={"account_id": account, "symbol": "EURUSD", "from": "2026-03-04T00:00:00Z"},
    ).json()
    assert [t["broker_trade_id"] for t in euro["items"]] == ["T-3"]
    forged = api.client.get(
        "/api/v1/trades", headers=alice.auth, params={"account_id": account, "cursor": "abc"}
    )
    assert forged.status_code == 422
    too_big = api.client.get(
        "/api/v1/trades", headers=alice.auth, params={"account_id": account, "limit": 501}
    )
    assert too_big.status_code == 422


# Trading sessions ------------------------------------------------------------------------


def test_a_session_counts_trades_pnl_and_tilt(api: Api, alice: User, pool: Pool) -> None:
    account = _create_account(api, alice)["id"]
    session = api.client.post(
        "/api/v1/sessions", headers=alice.auth, json={"account_id": account, "notes": "London"}
    )
    assert session.status_code == 201
    session_id = session.json()["id"]
    with pool.connection() as conn:
        conn.execute(
            "UPDATE trading_sessions SET started_at = '2026-03-02T09:00:00Z' WHERE id = %s",
            (session_id,),
        )
    _add_trade(api, alice, account, broker_trade_id="A", pnl=-500.0)
    _add_trade(api, alice, account, broker_trade_id="B", pnl=200.0)
    # Before the session: not counted.
    _add_trade(
        api,
        alice,
        account,
        broker_trade_id="C",
        pnl=1_000.0,
        entry_time="2026-03-01T09:05:00Z",
        exit_time="2026-03-01T09:40:00Z",
    )
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO breaches (breach_id, account_id, rule, level, ts, value, limit_value, "
            "message) VALUES (%s, %s, 'tilt', 2, '2026-03-02T09:45:00Z', 3, 3, 'tilt')",
            (f"tilt-{account}", account),
        )
    ended = api.client.post(f"/api/v1/sessions/{session_id}/end", headers=alice.auth)
    assert ended.status_code == 200
    body = ended.json()
    assert body["ended_at"] is not None
    assert (body["trade_count"], body["pnl"], body["tilt"]) == (2, -300.0, True)
    listed = api.client.get(
        "/api/v1/sessions", headers=alice.auth, params={"account_id": account}
    ).json()
    assert [s["id"] for s in listed] == [session_id]


# Hard edges ------------------------------------------------------------------------------


def test_bad_ids_are_4xx_never_500_nor_echoed(api: Api, alice: User) -> None:
    huge = "A" * 60_000  # the test client's longest URL; test_api_serve sends 100 KB
    for url in (
        "/api/v1/accounts/%00",
        "/api/v1/accounts/A%00B",
        "/api/v1/accounts/" + "B" * 129,
        "/api/v1/trades/%00%00%00%00",
        "/api/v1/sessions/99999999999999999999999",
        "/api/v1/sessions/-1",
        "/api/v1/trades?account_id=%00",
    ):
        response = api.client.get(url, headers=alice.auth)
        assert 400 <= response.status_code < 500, (url, response.status_code)
        assert "\x00" not in response.text
        assert "Traceback" not in response.text
    response = api.client.get(f"/api/v1/accounts/{huge}", headers=alice.auth)
    assert 400 <= response.status_code < 500
    assert huge[:1000] not in response.text


def test_bodies_over_the_cap_are_413(api: Api, alice: User) -> None:
    big = json.dumps({**ACCOUNT, "name": "x" * 70_000})
    response = api.client.post(
        "/api/v1/accounts",
        headers={**alice.auth, "Content-Type": "application/json"},
        content=big,
    )
    assert response.status_code == 413

    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1_000

    streamed = api.client.post(
        "/api/v1/auth/login", headers={"Content-Type": "application/json"}, content=chunks()
    )
    assert streamed.status_code == 413


def test_security_headers_cors_and_no_stack_traces(api: Api) -> None:
    response = api.client.get("/api/v1/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    allowed = api.client.options(
        "/api/v1/accounts",
        headers={"Origin": "https://desk.example", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers.get("access-control-allow-origin") == "https://desk.example"
    foreign = api.client.options(
        "/api/v1/accounts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in foreign.headers
    broken = api.client.post(
        "/api/v1/auth/login",
        headers={"Content-Type": "application/json"},
        content=b'{"email": "a@b.co", "password": ',
    )
    assert broken.status_code == 422
    assert "Traceback" not in broken.text
    # The docs are off in production, so nothing is loaded from a CDN.
    assert api.client.get("/docs").status_code == 404
    assert api.client.get("/openapi.json").status_code == 200


def test_alerts_list_only_the_users_own_accounts(
    api: Api, alice: User, bob: User, pool: Pool
) -> None:
    mine = _create_account(api, alice)["id"]
    theirs = _create_account(api, bob)["id"]
    with pool.connection() as conn:
        for number, account_id in enumerate((mine, theirs, mine)):
            conn.execute(
                "INSERT INTO breaches (breach_id, account_id, rule, level, ts, value, "
                "limit_value, message) VALUES (%s, %s, 'max_daily_loss', 1, %s, 3500, 5000, "
                "'Daily loss 3,500.00 is 70%% of the limit 5,000.00')",
                (
                    f"b{number}-{account_id}",
                    account_id,
                    datetime(2026, 3, 2, 9 + number, tzinfo=UTC),
                ),
            )
    alerts = api.client.get("/api/v1/alerts", headers=alice.auth).json()["items"]
    assert [a["breach"]["breach_id"] for a in alerts] == [f"b2-{mine}", f"b0-{mine}"]
    one = api.client.get(
        "/api/v1/alerts", headers=alice.auth, params={"account_id": mine, "limit": 1}
    )
    assert [a["breach"]["breach_id"] for a in one.json()["items"]] == [f"b2-{mine}"]
    bobs = api.client.get("/api/v1/alerts", headers=bob.auth).json()["items"]
    assert [a["breach"]["account_id"] for a in bobs] == [theirs]


def test_metrics_are_the_kpis_of_the_stored_trades_and_daily_closes(
    api: Api, alice: User, bob: User, pool: Pool
) -> None:
    account = _create_account(api, alice)["id"]
    _add_trade(api, alice, account, broker_trade_id="W", pnl=300.0)
    _add_trade(
        api,
        alice,
        account,
        broker_trade_id="L",
        pnl=-100.0,
        entry_time="2026-03-03T09:05:00Z",
        exit_time="2026-03-03T09:40:00Z",
    )
    with pool.connection() as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO balance_ticks (account_id, ts, balance, equity) VALUES (%s, %s, %s, %s)",
            [
                (account, "2026-03-02T12:00:00Z", 100_300, 100_250),
                (account, "2026-03-02T21:00:00Z", 100_300, 100_300),  # the day's close
                (account, "2026-03-03T21:00:00Z", 100_200, 99_800),
            ],
        )
    answer = api.client.get(f"/api/v1/metrics/{account}", headers=alice.auth)
    assert answer.status_code == 200, answer.text
    kpis = answer.json()
    # Two trades: +300 and -100 -> net 200, one win in two, profit factor 300 / 100.
    assert kpis["account_ids"] == [account]
    assert kpis["starting_balance"] == 100_000
    assert kpis["execution"]["net_pnl"] == 200
    assert kpis["execution"]["win_rate"] == 0.5
    assert kpis["execution"]["profit_factor"] == 3
    # Daily closes 100,300 then 99,800 from an initial 100,000: returns +0.3 % then
    # 99,800 / 100,300 - 1.
    assert kpis["returns"]["source"] == "equity_snapshots"
    assert kpis["returns"]["days"] == 2
    assert kpis["returns"]["total_return"] == pytest.approx(99_800 / 100_000 - 1)
    first_day = api.client.get(
        f"/api/v1/metrics/{account}",
        headers=alice.auth,
        params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
    ).json()
    assert first_day["execution"]["net_pnl"] == 300
    assert api.client.get(f"/api/v1/metrics/{account}", headers=bob.auth).status_code == 404
    backwards = api.client.get(
        f"/api/v1/metrics/{account}",
        headers=alice.auth,
        params={"from": "2026-03-03T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
    )
    assert backwards.status_code == 422
    for bad in ("0", "true", "2026-03-02", "2026-03-02T00:00:00", "2026-02-31T00:00:00Z"):
        answer = api.client.get(
            f"/api/v1/metrics/{account}", headers=alice.auth, params={"to": bad}
        )
        assert answer.status_code == 422, bad
        trades = api.client.get(
            "/api/v1/trades", headers=alice.auth, params={"account_id": account, "from": bad}
        )
        assert trades.status_code == 422, bad


class FastPipeline:
    """The event sink of a pipeline that stores the account event before the route goes on
    (the in-process demo's order): the row exists, without an owner, when the route
    stores the account."""

    def __init__(self, inner: EventSink, pool: Pool) -> None:
        self._inner = inner
        self._sink = PostgresSink(pool)

    def publish(self, event: AccountEvent | TradeEvent) -> None:
        self._inner.publish(event)
        self._sink.write([event])


def test_an_account_the_pipeline_stored_first_is_still_created_as_the_users(
    api: Api, alice: User, bob: User, pool: Pool
) -> None:
    api.services.events = FastPipeline(api.services.events, pool)
    response = api.client.post("/api/v1/accounts", headers=alice.auth, json=ACCOUNT)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["name"], created["currency"]) == (ACCOUNT["name"], ACCOUNT["currency"])
    mine = api.client.get(f"/api/v1/accounts/{created['id']}", headers=alice.auth)
    assert mine.status_code == 200 and mine.json()["id"] == created["id"]
    theirs = api.client.get(f"/api/v1/accounts/{created['id']}", headers=bob.auth)
    assert theirs.status_code == 404
