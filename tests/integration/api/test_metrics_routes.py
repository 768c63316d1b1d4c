"""The metrics routes on the real PostgreSQL: KPIs over a range (the keys and numbers of
``aetheris kpis``), the month's P&L calendar, the M4-downsampled equity curve, and the
daily KPI snapshots the job stores when a trading day ends -- all owner-checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from aetheris.commands.kpis import build_report
from aetheris.kpi_snapshots import KpiSnapshotJob
from infra.db.pool import Pool
from infra.db.sinks import PostgresSink
from schemas import AccountEvent, BalanceEvent, TradeEvent
from tests.integration.api.conftest import ACCOUNT, Api, User
from tests.unit.risk_engine.builders import closed_trade, tick

# Equity every ten minutes from 09:00 to 10:20 UTC on 2 March 2026.
EQUITY = [100_000, 99_800, 100_300, 99_500, 99_900, 99_700, 100_100, 99_600, 99_650]


def _events(account_id: str) -> list[BalanceEvent | TradeEvent]:
    ticks = [
        tick(f"2026-03-02 {9 + i // 6:02d}:{i % 6 * 10:02d}", 100_000, equity, account_id)
        for i, equity in enumerate(EQUITY)
    ]
    return [
        *ticks,
        closed_trade("T1", "2026-03-02 09:05", "2026-03-02 09:40", -500, account_id=account_id),
        tick("2026-03-02 10:30", 99_500, account_id=account_id),
        closed_trade("T2", "2026-03-03 09:05", "2026-03-03 10:00", 1_500, account_id=account_id),
        tick("2026-03-03 10:00", 101_000, account_id=account_id),
        closed_trade("T3", "2026-03-04 09:05", "2026-03-04 09:30", 200, account_id=account_id),
        tick("2026-03-04 09:30", 101_200, account_id=account_id),
    ]


@pytest.fixture
def account(api: Api, alice: User, pool: Pool) -> str:
    """Alice's FTMO account (trading days from midnight Europe/Prague) with its history."""
    response = api.client.post("/api/v1/accounts", headers=alice.auth, json=ACCOUNT)
    assert response.status_code == 201, response.text
    account_id: str = response.json()["id"]
    PostgresSink(pool).write(_events(account_id))
    return account_id


def _get(api: Api, user: User, url: str, **params: Any) -> Any:
    response = api.client.get(url, headers=user.auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_kpis_over_all_history_equal_aetheris_kpis(api: Api, alice: User, account: str) -> None:
    found = _get(api, alice, f"/api/v1/metrics/{account}")
    # by hand: -500 + 1,500 + 200
    assert found["execution"]["trades"] == 3
    assert found["execution"]["net_pnl"] == pytest.approx(1_200.0)
    assert found["starting_balance"] == 100_000.0
    assert found["currency"] == "USD"
    start = AccountEvent(
        account_id=account, ruleset="ftmo-2step", initial_balance=100_000, currency="USD"
    )
    report, _ = build_report(
        [start, *_events(account)],
        account=account,
        combined=False,
        risk_free_rate=0.0,
        periods_per_year=252,
        timezone="Europe/Prague",
    )
    expected = json.loads(json.dumps(report["accounts"][account], allow_nan=False))
    assert list(found) == list(expected)
    assert found == expected


def test_kpis_of_a_range_start_from_the_balance_then(api: Api, alice: User, account: str) -> None:
    found = _get(api, alice, f"/api/v1/metrics/{account}", **{"from": "2026-03-03T00:00:00Z"})
    assert found["execution"]["trades"] == 2  # T2 and T3
    assert found["execution"]["net_pnl"] == pytest.approx(1_700.0)
    assert found["starting_balance"] == pytest.approx(99_500.0)  # 100,000 - 500 before it
    only_t2 = _get(
        api,
        alice,
        f"/api/v1/metrics/{account}",
        **{"from": "2026-03-03T00:00:00Z", "to": "2026-03-04T00:00:00Z"},
    )
    assert only_t2["execution"]["trades"] == 1
    assert only_t2["execution"]["net_pnl"] == pytest.approx(1_500.0)
    backwards = api.client.get(
        f"/api/v1/metrics/{account}",
        headers=alice.auth,
        params={"from": "2026-03-04T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
    )
    assert backwards.status_code == 422
    for bad in ("0.5", "2026-03-03T00:00:00"):
        response = api.client.get(
            f"/api/v1/metrics/{account}", headers=alice.auth, params={"from": bad}
        )
        assert response.status_code == 422, bad


def test_month_calendar(api: Api, alice: User, account: str) -> None:
    march = _get(api, alice, f"/api/v1/metrics/{account}/calendar", month="2026-03")
    assert [(d["day"], d["net_pnl"], d["trades"]) for d in march["days"]] == [
        ("2026-03-02", -500.0, 1),
        ("2026-03-03", 1_500.0, 1),
        ("2026-03-04", 200.0, 1),
    ]
    assert (march["net_pnl"], march["trading_days"], march["green_days"], march["red_days"]) == (
        1_200.0,
        3,
        2,
        1,
    )
    april = _get(api, alice, f"/api/v1/metrics/{account}/calendar", month="2026-04")
    assert april["days"] == [] and april["net_pnl"] == 0
    for bad in ("2026-13", "2026-3", "march"):
        response = api.client.get(
            f"/api/v1/metrics/{account}/calendar", headers=alice.auth, params={"month": bad}
        )
        assert response.status_code == 422, bad


def _points(body: dict[str, Any]) -> list[tuple[str, float]]:
    return [(p["ts"][11:16], p["equity"]) for p in body["points"]]


def test_equity_curve_keeps_each_buckets_first_low_high_last(
    api: Api, alice: User, account: str
) -> None:
    window = {"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T10:30:00Z"}
    # 45-minute buckets: 09:00-09:40 and 09:50-10:20; only 09:10 (99,800) is neither the
    # first, lowest, highest nor last of its bucket.
    two = _get(api, alice, f"/api/v1/metrics/{account}/equity", buckets=2, **window)
    assert _points(two) == [
        ("09:00", 100_000.0),
        ("09:20", 100_300.0),
        ("09:30", 99_500.0),
        ("09:40", 99_900.0),
        ("09:50", 99_700.0),
        ("10:00", 100_100.0),
        ("10:10", 99_600.0),
        ("10:20", 99_650.0),
    ]
    one = _get(api, alice, f"/api/v1/metrics/{account}/equity", buckets=1, **window)
    assert _points(one) == [
        ("09:00", 100_000.0),
        ("09:20", 100_300.0),
        ("09:30", 99_500.0),
        ("10:20", 99_650.0),
    ]
    everything = _get(api, alice, f"/api/v1/metrics/{account}/equity", buckets=2_000)
    assert len(everything["points"]) == len(EQUITY) + 3  # every tick, in time order
    times = [p["ts"] for p in everything["points"]]
    assert times == sorted(times)


def test_daily_snapshots_are_stored_once_when_the_day_has_ended(
    api: Api, alice: User, account: str, pool: Pool
) -> None:
    url = f"/api/v1/metrics/{account}"
    assert api.client.get(f"{url}/2026-03-02", headers=alice.auth).status_code == 404
    # 12:00 UTC on 4 March: the Prague days of 2 and 3 March are over, 4 March is not.
    job = KpiSnapshotJob(pool, clock=lambda: datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    assert job.run_once() >= 2
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT day::text, day_start, day_end FROM daily_kpi_snapshots "
            "WHERE account_id = %s ORDER BY day",
            (account,),
        ).fetchall()
    assert rows == [
        (
            "2026-03-02",
            datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
            datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
        ),
        (
            "2026-03-03",
            datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
            datetime(2026, 3, 3, 23, 0, tzinfo=UTC),
        ),
    ]
    second = _get(api, alice, f"{url}/2026-03-02")
    assert second["execution"]["trades"] == 1
    assert second["execution"]["net_pnl"] == pytest.approx(-500.0)
    assert second["starting_balance"] == 100_000.0
    third = _get(api, alice, f"{url}/2026-03-03")
    assert third["execution"]["net_pnl"] == pytest.approx(1_500.0)
    assert third["starting_balance"] == pytest.approx(99_500.0)
    assert api.client.get(f"{url}/2026-03-04", headers=alice.auth).status_code == 404
    assert api.client.get(f"{url}/2026-02-30", headers=alice.auth).status_code == 422
    assert job.run_once() == 0  # nothing new: each day is stored once
    later = KpiSnapshotJob(pool, clock=lambda: datetime(2026, 3, 5, 0, 0, tzinfo=UTC))
    later.run_once()
    assert _get(api, alice, f"{url}/2026-03-04")["execution"]["net_pnl"] == pytest.approx(200.0)


def test_another_users_account_is_404_on_every_metrics_route(
    api: Api, alice: User, bob: User, account: str
) -> None:
    for path, params in (
        ("", {}),
        ("/calendar", {"month": "2026-03"}),
        ("/equity", {}),
        ("/2026-03-02", {}),
    ):
        response = api.client.get(
            f"/api/v1/metrics/{account}{path}", headers=bob.auth, params=params
        )
        assert response.status_code == 404, (path, response.text)
        missing = api.client.get(
            f"/api/v1/metrics/acc_missing{path}", headers=alice.auth, params=params
        )
        assert missing.status_code == 404, path
    assert api.client.get(f"/api/v1/metrics/{account}").status_code == 401


def test_kpi_documents_are_cached_in_redis_and_new_history_is_never_served_stale(
    api: Api, alice: User, account: str, pool: Pool, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    pattern = f"{api.redis_prefix}:kpis:*"
    try:
        url = f"/api/v1/metrics/{account}"
        first = _get(api, alice, url)
        assert len(list(client.scan_iter(match=pattern))) == 1
        assert _get(api, alice, url) == first  # the cached document
        assert len(list(client.scan_iter(match=pattern))) == 1
        # a trade closed later: a new fingerprint, a new document
        PostgresSink(pool).write(
            [closed_trade("T4", "2026-03-05 09:05", "2026-03-05 09:30", -100, account_id=account)]
        )
        after = _get(api, alice, url)
        assert after["execution"]["trades"] == 4
        assert after["execution"]["net_pnl"] == pytest.approx(1_100.0)
        assert len(list(client.scan_iter(match=pattern))) == 2
        # a range that ends before the new trade keeps its cached document
        march_3 = {"from": "2026-03-03T00:00:00Z", "to": "2026-03-04T00:00:00Z"}
        assert _get(api, alice, url, **march_3)["execution"]["trades"] == 1
    finally:
        client.close()


def test_the_kpis_are_read_through_the_metrics_store_alone(
    api: Api, alice: User, account: str
) -> None:
    # One reader of an account's history for the KPIs: the metrics store. Without one
    # configured the route is 503, never answered from another reader of the same rows.
    found = _get(api, alice, f"/api/v1/metrics/{account}")
    assert found["execution"]["net_pnl"] == pytest.approx(1_200.0)  # -500 + 1,500 + 200
    api.services.metrics = None
    for path, params in (("", {}), ("/calendar", {"month": "2026-03"}), ("/equity", {})):
        response = api.client.get(
            f"/api/v1/metrics/{account}{path}", headers=alice.auth, params=params
        )
        assert response.status_code == 503, (path, response.text)
        assert response.json()["detail"] == "no database configured"
