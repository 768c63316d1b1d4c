"""All of a user's accounts together (``GET /api/v1/metrics``) on the real PostgreSQL:
worked examples computed by hand, equal to ``aetheris kpis --combined`` over the same
events; another user's account never counts; money in different currencies is never
added up (422 naming them, or one currency picked with ``currency=``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aetheris.commands.kpis import build_report
from infra.db.pool import Pool
from infra.db.sinks import PostgresSink
from schemas import AccountEvent, BalanceEvent, TradeEvent
from tests.integration.api.conftest import Api, User
from tests.unit.risk_engine.builders import closed_trade, tick

BOOK = "/api/v1/metrics"


def _open(api: Api, user: User, name: str, initial: float, currency: str = "USD") -> str:
    body = {"name": name, "ruleset": "ftmo-2step", "initial_balance": initial, "currency": currency}
    response = api.client.post("/api/v1/accounts", headers=user.auth, json=body)
    assert response.status_code == 201, response.text
    account_id: str = response.json()["id"]
    return account_id


def _first(account_id: str) -> list[BalanceEvent | TradeEvent]:
    """100,000 USD: -500 on 2 March, +1,500 on 3 March (with end-of-day ticks)."""
    return [
        closed_trade("T1", "2026-03-02 09:05", "2026-03-02 09:40", -500, account_id=account_id),
        tick("2026-03-02 16:00", 99_500, account_id=account_id),
        closed_trade("T2", "2026-03-03 09:05", "2026-03-03 10:00", 1_500, account_id=account_id),
        tick("2026-03-03 16:00", 101_000, account_id=account_id),
    ]


def _second(account_id: str) -> list[BalanceEvent | TradeEvent]:
    """50,000 USD: +300 on 2 March, -100 on 4 March (no ticks)."""
    return [
        closed_trade("T1", "2026-03-02 10:00", "2026-03-02 11:00", 300, account_id=account_id),
        closed_trade("T2", "2026-03-04 09:00", "2026-03-04 09:30", -100, account_id=account_id),
    ]


@pytest.fixture
def book(api: Api, alice: User, bob: User, pool: Pool) -> tuple[str, str]:
    """Alice's two USD accounts with history, and Bob's big winner that must never count."""
    first = _open(api, alice, "Main", 100_000)
    second = _open(api, alice, "Side", 50_000)
    bobs = _open(api, bob, "Bob's", 100_000)
    sink = PostgresSink(pool)
    sink.write([*_first(first), *_second(second)])
    sink.write(
        [closed_trade("B1", "2026-03-02 09:00", "2026-03-02 09:30", 10_000, account_id=bobs)]
    )
    return first, second


def _get(api: Api, user: User, **params: Any) -> Any:
    response = api.client.get(BOOK, headers=user.auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_two_accounts_add_up_by_hand(api: Api, alice: User, book: tuple[str, str]) -> None:
    first, second = book
    found = _get(api, alice)
    assert found["account_ids"] == sorted([first, second])
    assert (found["currency"], found["starting_balance"]) == ("USD", 150_000.0)
    execution = found["execution"]
    # -500 + 1,500 + 300 - 100; wins 1,500 and 300, losses 500 and 100.
    assert (execution["trades"], execution["wins"], execution["losses"]) == (4, 2, 2)
    assert execution["net_pnl"] == pytest.approx(1_200.0)
    assert execution["win_rate"] == pytest.approx(0.5)
    assert execution["profit_factor"] == pytest.approx(1_800 / 600)
    # Both on FTMO's clock (Europe/Prague): the days of the whole book.
    assert found["config"]["timezone"] == "Europe/Prague"
    assert [(d["date"], d["net_pnl"], d["trades"]) for d in found["calendar"]] == [
        ("2026-03-02", -200.0, 2),
        ("2026-03-03", 1_500.0, 1),
        ("2026-03-04", -100.0, 1),
    ]
    assert found["equity_curve"][-1]["equity"] == pytest.approx(151_200.0)
    by_symbol = found["breakdowns"]["by_symbol"]
    assert [(row["key"], row["trades"], row["net_pnl"]) for row in by_symbol] == [
        ("EURUSD", 4, 1_200.0)
    ]


def test_the_book_equals_aetheris_kpis_combined(
    api: Api, alice: User, book: tuple[str, str]
) -> None:
    first, second = book
    starts = [
        AccountEvent(
            account_id=account, ruleset="ftmo-2step", initial_balance=initial, currency="USD"
        )
        for account, initial in ((first, 100_000), (second, 50_000))
    ]
    report, _ = build_report(
        [*starts, *_first(first), *_second(second)],
        account=None,
        combined=True,
        risk_free_rate=0.0,
        periods_per_year=252,
        timezone="Europe/Prague",
    )
    expected = json.loads(json.dumps(report["combined"], allow_nan=False))
    assert _get(api, alice) == expected


def test_a_range_starts_from_each_accounts_balance_then(
    api: Api, alice: User, book: tuple[str, str]
) -> None:
    found = _get(api, alice, **{"from": "2026-03-03T00:00:00Z"})
    # 100,000 - 500 and 50,000 + 300 closed before 3 March.
    assert found["starting_balance"] == pytest.approx(149_800.0)
    assert found["execution"]["trades"] == 2
    assert found["execution"]["net_pnl"] == pytest.approx(1_400.0)
    backwards = api.client.get(
        BOOK,
        headers=alice.auth,
        params={"from": "2026-03-04T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
    )
    assert backwards.status_code == 422


def test_another_users_accounts_never_count(
    api: Api, alice: User, bob: User, book: tuple[str, str]
) -> None:
    bobs = _get(api, bob)
    assert len(bobs["account_ids"]) == 1 and set(bobs["account_ids"]).isdisjoint(book)
    assert bobs["execution"]["trades"] == 1
    assert bobs["execution"]["net_pnl"] == pytest.approx(10_000.0)
    assert _get(api, alice)["execution"]["net_pnl"] == pytest.approx(1_200.0)
    assert api.client.get(BOOK).status_code == 401


def test_mixed_currencies_are_refused_unless_one_is_picked(
    api: Api, alice: User, book: tuple[str, str], pool: Pool
) -> None:
    euros = _open(api, alice, "Euro", 20_000, currency="EUR")
    PostgresSink(pool).write(
        [closed_trade("E1", "2026-03-02 09:00", "2026-03-02 09:20", 50, account_id=euros)]
    )
    refused = api.client.get(BOOK, headers=alice.auth)
    assert refused.status_code == 422
    assert "EUR, USD" in refused.json()["detail"]
    dollars = _get(api, alice, currency="USD")
    assert dollars["account_ids"] == sorted(book)
    assert dollars["execution"]["net_pnl"] == pytest.approx(1_200.0)
    assert dollars["starting_balance"] == 150_000.0
    euro_book = _get(api, alice, currency="EUR")
    assert euro_book["account_ids"] == [euros]
    assert (euro_book["currency"], euro_book["starting_balance"]) == ("EUR", 20_000.0)
    assert euro_book["execution"]["net_pnl"] == pytest.approx(50.0)
    none = _get(api, alice, currency="JPY")
    assert none["account_ids"] == [] and none["execution"]["trades"] == 0
    lower = api.client.get(BOOK, headers=alice.auth, params={"currency": "usd"})
    assert lower.status_code == 422


def test_a_user_without_accounts_gets_an_empty_book(api: Api, alice: User) -> None:
    found = _get(api, alice)
    assert found["account_ids"] == []
    assert (found["execution"]["trades"], found["execution"]["net_pnl"]) == (0, 0)
    assert found["calendar"] == [] and found["equity_curve"] == []


def test_a_new_trade_is_never_served_from_a_stale_cached_book(
    api: Api, alice: User, book: tuple[str, str], pool: Pool
) -> None:
    second = book[1]
    assert _get(api, alice)["execution"]["trades"] == 4
    PostgresSink(pool).write(
        [closed_trade("T3", "2026-03-05 09:00", "2026-03-05 09:30", 250, account_id=second)]
    )
    after = _get(api, alice)
    assert after["execution"]["trades"] == 5
    assert after["execution"]["net_pnl"] == pytest.approx(1_450.0)
