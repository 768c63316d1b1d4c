"""The API over its ports: live standings, alerts, daily roll-up, the WebSocket feed."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from api.app import create_app
from api.hub import BreachHub
from api.live import LiveBoard
from api.ports import DailyRow, StoredAlert
from infra.rulesets import RulesetCatalog
from risk_engine import Armor
from schemas import AccountEvent, BalanceEvent, BreachEvent
from tests.unit.risk_engine.builders import account, tick


class FakeHistory:
    """A hand-written twin of the database-backed history."""

    def __init__(self, alerts: list[StoredAlert]) -> None:
        self._alerts = alerts

    def alerts(self, account_id: str | None, limit: int) -> list[StoredAlert]:
        found = [a for a in self._alerts if account_id in (None, a.breach.account_id)]
        return found[:limit]

    def daily(self, account_id: str, days: int) -> list[DailyRow]:
        return [DailyRow(day=date(2026, 3, 2), net_pnl=-6_000.0, trades=3, wins=1, losses=2)]


def _events() -> list[AccountEvent | BalanceEvent]:
    return [
        account("ftmo-2step"),
        tick("2026-03-02 09:00", 100_000),
        tick("2026-03-02 10:00", 100_000, 94_000),
    ]


def _breaches() -> list[BreachEvent]:
    armor = Armor(RulesetCatalog())
    return [b for e in _events() for b in armor.process(e)]


def _client() -> tuple[TestClient, BreachHub]:
    board = LiveBoard(RulesetCatalog())
    for event in _events():
        board.apply(event)
    hub = BreachHub()
    history = FakeHistory([StoredAlert(breach=b) for b in _breaches()])
    return TestClient(create_app(board, history, hub)), hub


def test_live_standings_show_each_rules_use() -> None:
    client, _ = _client()
    with client:
        accounts = client.get("/api/v1/accounts").json()
    assert [a["account_id"] for a in accounts] == ["A1"]
    rules = {r["rule"]: r for r in accounts[0]["rules"]}
    assert rules["max_daily_loss"]["used"] == 6_000
    assert rules["max_daily_loss"]["level"] == 3
    assert rules["max_loss"]["used_percent"] == 60


def test_an_unknown_account_is_a_404() -> None:
    client, _ = _client()
    with client:
        response = client.get("/api/v1/accounts/NOPE")
    assert response.status_code == 404
    assert "NOPE" in response.json()["detail"]


def test_alerts_filter_by_account() -> None:
    client, _ = _client()
    with client:
        mine = client.get("/api/v1/alerts", params={"account_id": "A1"}).json()
        other = client.get("/api/v1/alerts", params={"account_id": "B2"}).json()
        bad = client.get("/api/v1/alerts", params={"limit": 0})
    assert [a["breach"]["level"] for a in mine] == [1, 2, 3]
    assert other == []
    assert bad.status_code == 422


def test_the_websocket_replays_recent_breaches_then_streams_new_ones() -> None:
    client, hub = _client()
    breaches = _breaches()
    with client, client.websocket_connect("/ws/realtime") as socket:
        hub.publish(breaches[:1])
        first = socket.receive_json()
        hub.publish(breaches[1:2])
        second = socket.receive_json()
    assert first == {"kind": "breach", "breach": breaches[0].model_dump(mode="json")}
    assert second["breach"]["breach_id"] == breaches[1].breach_id


def test_the_dashboard_page_is_served() -> None:
    client, _ = _client()
    with client:
        page = client.get("/")
    assert page.status_code == 200
    assert "/ws/realtime" in page.text
    assert "#C9A050" in page.text
