"""OANDA transactions → events, the backoff schedule and Retry-After, by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.oanda.client import FatalError, OandaClient, RetryableError, parse_retry_after
from connectors.oanda.connector import Backoff, OandaPoller
from connectors.oanda.parse import OandaBook, OandaDataError, parse_time
from connectors.oanda.wire import AccountSummary
from connectors.statefile import JsonStateFile
from connectors.synclog import MemorySyncLogWriter
from infra.bus import EventPublisher, InProcessBus, Topics
from schemas import BalanceEvent, TradeEvent
from tests.unit.connectors.fakes import FlakyPublisher


def order_fill(tx_id: str, **fields: object) -> dict[str, object]:
    return {
        "id": tx_id,
        "time": "2026-03-02T09:00:00Z",
        "type": "ORDER_FILL",
        "instrument": "GBP_USD",
        "units": "0",
        "accountBalance": "5000.0000",
        **fields,
    }


def test_one_fill_closing_two_trades_and_opening_a_third_shares_its_commission() -> None:
    """Trades 1 (long 100) and 2 (long 300) are closed and trade 3 (short 600) opened by
    one fill of −1,000 units with commission 1.00: shares 100/1,000 = 0.10, 0.30, 0.60.
    Trade 1: realizedPL 0.50 − 0.10 = 0.40; trade 2: −1.20 + financing −0.05 − 0.30 = −1.55."""
    book = OandaBook("A1", last_transaction_id=10)
    for trade_id, units in (("1", "100"), ("2", "300")):
        book.apply(
            order_fill(
                str(10 + int(trade_id)),
                tradeOpened={"tradeID": trade_id, "units": units, "price": "1.25000"},
            )
        )
    outcome = book.apply(
        order_fill(
            "13",
            units="-1000",
            commission="1.0000",
            tradesClosed=[
                {"tradeID": "1", "units": "-100", "price": "1.25500", "realizedPL": "0.5000"},
                {
                    "tradeID": "2",
                    "units": "-300",
                    "price": "1.24600",
                    "realizedPL": "-1.2000",
                    "financing": "-0.0500",
                },
            ],
            tradeOpened={"tradeID": "3", "units": "-600", "price": "1.24600"},
        )
    )
    one, two, three = (e for e in outcome.events if isinstance(e, TradeEvent))
    assert (one.broker_trade_id, one.status, one.pnl, one.commission) == ("1", "closed", 0.4, -0.1)
    assert (two.pnl, two.commission, two.swap, two.exit_price) == (-1.55, -0.3, -0.05, 1.246)
    assert (three.status, three.side, three.quantity, three.symbol) == (
        "open",
        "short",
        600.0,
        "GBPUSD",
    )
    assert book.open_trades["3"].commission == pytest.approx(0.6)


def test_repeated_and_old_transactions_are_duplicates() -> None:
    book = OandaBook("A1", last_transaction_id=5)
    assert book.apply({"id": "5", "type": "DAILY_FINANCING"}).kind == "duplicate"
    assert book.apply({"id": "6", "type": "DAILY_FINANCING"}).kind == "ignored"
    assert book.apply({"id": "6", "type": "DAILY_FINANCING"}).kind == "duplicate"


def test_a_withdrawal_is_a_balance_event_keeping_the_open_pnl() -> None:
    """Last summary: balance 5,000, NAV 4,980 (−20 open). Withdrawal to 4,000 → equity 3,980."""
    book = OandaBook("A1", last_transaction_id=0)
    book.summary_event(
        AccountSummary.model_validate(
            {
                "id": "x",
                "currency": "USD",
                "balance": "5000",
                "NAV": "4980",
                "lastTransactionID": "0",
            }
        ),
        datetime(2026, 3, 2, tzinfo=UTC),
    )
    [event] = book.apply(
        {
            "id": "1",
            "time": "2026-03-02T10:00:00Z",
            "type": "TRANSFER_FUNDS",
            "amount": "-1000",
            "accountBalance": "4000",
        }
    ).events
    assert isinstance(event, BalanceEvent)
    assert (event.balance, event.equity) == (4000.0, 3980.0)


def test_a_bad_fill_changes_no_trade_and_is_skipped() -> None:
    book = OandaBook("A1", last_transaction_id=0)
    book.apply(order_fill("1", tradeOpened={"tradeID": "1", "units": "10", "price": "1.2"}))
    bad = order_fill(
        "2",
        tradeReduced={"tradeID": "1", "units": "-5", "price": "1.3", "realizedPL": "0.5"},
        tradesClosed=[{"tradeID": "77", "units": "-1", "price": "1", "realizedPL": "0"}],
    )
    with pytest.raises(OandaDataError, match="trade 77 is not known to be open"):
        book.apply(bad)
    assert book.open_trades["1"].closed_units == 0  # the reduce did not half-land
    assert book.last_transaction_id == 2  # moved past it: reported, not retried forever


def test_unknown_trades_are_listed_for_seeding() -> None:
    book = OandaBook("A1", last_transaction_id=0)
    raw = order_fill(
        "1", tradesClosed=[{"tradeID": "9", "units": "-1", "price": "1", "realizedPL": "0"}]
    )
    assert book.unknown_trades(raw) == ["9"]


def test_state_round_trip() -> None:
    book = OandaBook("A1", last_transaction_id=0)
    book.apply(order_fill("1", tradeOpened={"tradeID": "1", "units": "-10", "price": "1.2"}))
    again = OandaBook("A1")
    again.restore(book.to_state())
    assert again.last_transaction_id == 1
    assert again.open_trades == book.open_trades
    with pytest.raises(ValueError, match="for account 'A1'"):
        OandaBook("B2").restore(book.to_state())


def test_rfc3339_with_nanoseconds() -> None:
    assert parse_time("2026-03-02T09:00:00.123456789Z") == datetime(
        2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2026-03-02T09:00:00+01:00").hour == 8
    with pytest.raises(OandaDataError, match="not an RFC 3339"):
        parse_time("yesterday")


def test_backoff_doubles_from_one_second_and_is_capped() -> None:
    backoff = Backoff(first=1.0, cap=10.0)
    assert [backoff.delay(n, 1.0) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert [backoff.delay(n, 0.0) for n in range(3)] == [0.5, 1.0, 2.0]  # the least: half


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now.timestamp()) == 7.0
    later = format_datetime(datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now.timestamp()) == 30.0
    assert parse_retry_after("999999", now.timestamp()) == 900.0  # capped
    assert parse_retry_after("soon", now.timestamp()) is None


def client_answering(status: int, body: bytes = b"{}") -> OandaClient:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    return OandaClient("http://broker.test", "101-1", "tok", transport=transport)


def test_status_codes_sorted_into_retry_and_give_up() -> None:
    with pytest.raises(RetryableError, match="503"):
        client_answering(503).summary()
    with pytest.raises(FatalError, match=r"404: not found \(The Account does not exist\)"):
        client_answering(404, b'{"errorMessage": "The Account does not exist"}').summary()
    with pytest.raises(FatalError, match="400"):
        client_answering(400).summary()
    with pytest.raises(RetryableError, match="not in OANDA's shape"):
        client_answering(200, b'{"account": {}}').summary()


def test_client_refuses_bad_urls_and_account_ids() -> None:
    with pytest.raises(ValueError, match="must start with https://"):
        OandaClient("file:///etc/passwd", "101-1", "tok")
    with pytest.raises(ValueError, match="is not valid"):
        OandaClient("http://broker.test", "../../admin", "tok")
    with pytest.raises(FatalError, match="is not a number"):
        client_answering(200).trade("../x")


def test_a_redirect_is_not_followed_and_the_token_goes_nowhere_else() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "http://attacker.test/steal"})

    client = OandaClient(
        "http://broker.test", "101-1", "secret-tok", transport=httpx.MockTransport(answer)
    )
    with pytest.raises(FatalError, match="302") as caught:
        client.summary()
    assert [r.url.host for r in seen] == ["broker.test"]
    assert "secret-tok" not in str(caught.value)


def test_an_oversized_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.oanda.client.MAX_BODY_BYTES", 1000)
    with pytest.raises(FatalError, match="larger than 1000 bytes"):
        client_answering(200, b"x" * 5000).summary()


def test_a_fill_the_contract_refuses_is_a_data_error_not_a_crash() -> None:
    book = OandaBook("A1", last_transaction_id=0)
    with pytest.raises(OandaDataError, match="transaction 1: entry_price"):
        book.apply(order_fill("1", tradeOpened={"tradeID": "1", "units": "10", "price": "0"}))
    assert book.open_trades == {}
    assert book.last_transaction_id == 1


def test_an_account_in_another_currency_gives_up_with_the_reason(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/summary"):
            account = {"id": "101-1", "currency": "EUR", "balance": "100", "NAV": "100",
                       "lastTransactionID": "3"}  # fmt: skip
            return httpx.Response(200, json={"account": account, "lastTransactionID": "3"})
        return httpx.Response(200, json={"transactions": [], "lastTransactionID": "3"})

    client = OandaClient("http://broker.test", "101-1", "t", transport=httpx.MockTransport(answer))
    bus = InProcessBus()
    bus.create_topics(["e", "b", "d"], 1)
    poller = OandaPoller(
        client,
        OandaBook("A1"),
        EventPublisher(bus.publisher(), Topics("e", "b", "d", 1)),
        JsonStateFile(tmp_path / "state.json"),
        MemorySyncLogWriter(),
        source="rest:oanda:101-1",
        currency="USD",
    )
    report = poller.run(interval=1.0, backoff=Backoff(), wait=lambda seconds: False)
    assert report.gave_up == "the OANDA account is in EUR, the AETHERIS account A1 in USD"
    assert bus.reader("e").read(10, 0.0) == []


def test_a_bus_outage_replays_the_poll_from_the_saved_state(tmp_path: Path) -> None:
    """The first flush fails (the events are lost): the poller goes back to its saved
    state, waits, and publishes the same transaction again: delivered once."""
    fill = order_fill("1", tradeOpened={"tradeID": "1", "units": "10", "price": "1.2"})

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/summary"):
            account = {"id": "101-1", "currency": "USD", "balance": "100", "NAV": "99",
                       "lastTransactionID": "1"}  # fmt: skip
            return httpx.Response(200, json={"account": account, "lastTransactionID": "1"})
        since = int(request.url.params["id"])
        found = [fill] if since < 1 else []
        return httpx.Response(200, json={"transactions": found, "lastTransactionID": "1"})

    flaky = FlakyPublisher(failures=1)
    state = JsonStateFile(tmp_path / "state.json")
    poller = OandaPoller(
        OandaClient("http://broker.test", "101-1", "t", transport=httpx.MockTransport(answer)),
        OandaBook("A1"),
        EventPublisher(flaky, Topics("e", "b", "d", 1)),
        state,
        MemorySyncLogWriter(),
        source="rest:oanda:101-1",
        since_transaction_id=0,
    )
    pauses: list[float] = []

    def wait(seconds: float) -> bool:
        pauses.append(seconds)
        return seconds == 5.0

    report = poller.run(interval=5.0, backoff=Backoff(), wait=wait, jitter=lambda: 1.0)
    assert report.gave_up is None
    assert pauses == [1.0, 5.0]
    kinds = [json.loads(value)["type"] for value in flaky.delivered]
    assert kinds == ["trade", "balance"]
    saved = state.load()
    assert saved is not None and saved["last_transaction_id"] == 1


@given(
    st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=100_000),
)
def test_a_fills_commission_is_shared_out_exactly_once(
    closed_units: list[int], opened_units: int, commission_cents: int
) -> None:
    """Whatever a fill closes and opens, its trades' commissions add up to the fill's."""
    book = OandaBook("A1", last_transaction_id=0)
    for n, units in enumerate(closed_units, start=1):
        book.apply(
            order_fill(str(n), tradeOpened={"tradeID": str(n), "units": str(units), "price": "1"})
        )
    before = sum(t.commission for t in book.open_trades.values())
    fields: dict[str, object] = {
        "commission": f"{commission_cents / 100:.2f}",
        "tradesClosed": [
            {"tradeID": str(n), "units": str(-u), "price": "1.1", "realizedPL": "0"}
            for n, u in enumerate(closed_units, start=1)
        ],
    }
    if opened_units:
        fields["tradeOpened"] = {"tradeID": "999", "units": str(-opened_units), "price": "1.1"}
    outcome = book.apply(order_fill("100", **fields))
    closed = [e for e in outcome.events if isinstance(e, TradeEvent) and e.status == "closed"]
    assert len(closed) == len(closed_units)
    charged = sum(-t.commission for t in closed) + sum(
        t.commission for t in book.open_trades.values()
    )
    # Each closed trade's share is rounded to the cent; the open one keeps its exact share.
    assert abs(charged - before - commission_cents / 100) <= 0.005 * len(closed) + 1e-9
