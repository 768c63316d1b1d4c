"""The OANDA REST connector against a local server in OANDA v20's shapes, publishing to
real Kafka: paging, a 500, a 429 with Retry-After, a timeout, a dropped connection, a
restart from the saved
transaction id, a trade opened before the connector, a bad transaction, and giving up.

Account in USD, EUR_USD (100,000 units = 1 lot; OANDA reports P&L itself). By hand:
- 2 TRANSFER_FUNDS 10,000 → balance 10,000 (equity 10,000: nothing open).
- 3 opens trade 3: long 1,000 @ 1.10000.
- 4 reduces it by 400 @ 1.10500: realizedPL 2.00, financing −0.10, commission 0.05.
- 5 closes the other 600 @ 1.10200: realizedPL 1.20, financing −0.05, commission 0.05.
  Closed trade 3: exit (400 × 1.105 + 600 × 1.102) / 1,000 = 1.1032; P&L 3.20 − 0.15 −
  0.10 = 2.95; commission −0.10; swap −0.15.
- 6 opens trade 6: short 2,000 @ 1.10100.
- summary: balance 10,002.95, NAV 10,001.95.
After a restart:
- 7 closes trade 6 @ 1.10000: realizedPL 2.00, commission 0.10 → P&L 1.90.
- 8 closes trade 99, opened before the connector (long 500 @ 1.1000 per GET trades/99),
  @ 1.0990: realizedPL −0.50 → P&L −0.50.
- 9 is an ORDER_FILL without accountBalance: reported and skipped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from connectors.oanda.client import OandaClient
from connectors.oanda.connector import Backoff, OandaPoller
from connectors.oanda.parse import OandaBook
from connectors.statefile import JsonStateFile
from connectors.synclog import MemorySyncLogWriter
from infra.bus import EventPublisher, InProcessBus, Topics
from infra.bus.kafka import KafkaBus
from infra.db.scratch import scratch_database
from schemas import AccountEvent
from tests.integration.kafka.oanda_server import FakeOanda, Fault
from tests.integration.kafka.support import aetheris, read_topic, through_engine

TOKEN = "oanda-token-5be1c0ffee"  # checked never to appear in the logs
OANDA_ACCOUNT = "101-004-1234567-001"
NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def fill(tx_id: str, time: str, balance: str, **parts: Any) -> dict[str, Any]:
    return {
        "id": tx_id,
        "time": time,
        "type": "ORDER_FILL",
        "instrument": "EUR_USD",
        "units": "0",
        "pl": "0.0000",
        "financing": "0.0000",
        "commission": parts.pop("commission", "0.0000"),
        "accountBalance": balance,
        "reason": "MARKET_ORDER",
        **parts,
    }


HISTORY = [
    {"id": "1", "time": "2026-03-02T07:00:00.000000000Z", "type": "CREATE"},
    {
        "id": "2",
        "time": "2026-03-02T08:00:00.000000000Z",
        "type": "TRANSFER_FUNDS",
        "amount": "10000.0000",
        "accountBalance": "10000.0000",
        "fundingReason": "CLIENT_FUNDING",
    },
    fill(
        "3",
        "2026-03-02T09:00:00.123456789Z",
        "10000.0000",
        tradeOpened={"tradeID": "3", "units": "1000", "price": "1.10000"},
    ),
    fill(
        "4",
        "2026-03-02T10:00:00.000000000Z",
        "10001.8500",
        commission="0.0500",
        tradeReduced={
            "tradeID": "3",
            "units": "-400",
            "price": "1.10500",
            "realizedPL": "2.0000",
            "financing": "-0.1000",
        },
    ),
    fill(
        "5",
        "2026-03-02T11:00:00.000000000Z",
        "10002.9500",
        commission="0.0500",
        tradesClosed=[
            {
                "tradeID": "3",
                "units": "-600",
                "price": "1.10200",
                "realizedPL": "1.2000",
                "financing": "-0.0500",
            }
        ],
    ),
    fill(
        "6",
        "2026-03-02T12:00:00.000000000Z",
        "10002.9500",
        tradeOpened={"tradeID": "6", "units": "-2000", "price": "1.10100"},
    ),
]

LATER = [
    fill(
        "7",
        "2026-03-02T13:00:00Z",
        "10004.8500",
        commission="0.1000",
        tradesClosed=[
            {"tradeID": "6", "units": "2000", "price": "1.10000", "realizedPL": "2.0000"}
        ],
    ),
    fill(
        "8",
        "2026-03-02T13:30:00Z",
        "10004.3500",
        tradesClosed=[
            {"tradeID": "99", "units": "-500", "price": "1.09900", "realizedPL": "-0.5000"}
        ],
    ),
    {"id": "9", "time": "2026-03-02T13:40:00Z", "type": "ORDER_FILL", "instrument": "EUR_USD",
     "units": "1"},
]  # fmt: skip


@pytest.fixture
def oanda() -> Iterator[FakeOanda]:
    server = FakeOanda(OANDA_ACCOUNT, TOKEN)
    yield server
    server.close()


def poller(
    server: FakeOanda,
    publisher: EventPublisher,
    state: Path,
    sync_log: MemorySyncLogWriter,
    *,
    token: str = TOKEN,
    since: int | None = None,
) -> OandaPoller:
    client = OandaClient(server.url, OANDA_ACCOUNT, token, timeout=0.3)
    return OandaPoller(
        client,
        OandaBook("OANDA-A1"),
        publisher,
        JsonStateFile(state),
        sync_log,
        source=f"rest:oanda:{OANDA_ACCOUNT}",
        clock=lambda: NOW,
        since_transaction_id=since,
    )


def recorder(pauses: list[float], rounds: int = 1) -> Callable[[float], bool]:
    """A ``wait`` that records each pause and stops after ``rounds`` successful rounds
    (a pause of exactly 5 s is the poll interval)."""

    def wait(seconds: float) -> bool:
        pauses.append(seconds)
        return pauses.count(5.0) >= rounds

    return wait


def test_polling_with_faults_paging_and_a_restart(
    oanda: FakeOanda,
    kafka: KafkaBus,
    topics: Topics,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    oanda.transactions = list(HISTORY)
    oanda.balance, oanda.nav = "10002.9500", "10001.9500"
    oanda.faults.extend(
        [Fault(500), Fault(429, {"Retry-After": "7"}), Fault(pause=1.0), Fault(drop=True)]
    )
    state = tmp_path / "oanda.json"
    sync_log = MemorySyncLogWriter()
    publisher = EventPublisher(kafka.publisher(), topics)
    pauses: list[float] = []
    first = poller(oanda, publisher, state, sync_log, since=0)
    report = first.run(
        interval=5.0,
        backoff=Backoff(first=1.0, cap=60.0, max_attempts=8),
        wait=recorder(pauses),
        jitter=lambda: 1.0,
        account=AccountEvent(
            account_id="OANDA-A1", ruleset="personal", initial_balance=10_000.0, currency="USD"
        ),
    )
    # 500 → 1 s; 429 → its Retry-After 7 s; timeout (third failure) → 4 s; connection
    # dropped without an answer (fourth) → 8 s; then the poll interval
    assert pauses == [1.0, 7.0, 4.0, 8.0, 5.0]
    assert report.gave_up is None
    assert json.loads(state.read_text())["last_transaction_id"] == 6
    sinceids = [r for r in oanda.requests if "sinceid" in r]
    assert sinceids[-3:] == [
        f"/v3/accounts/{OANDA_ACCOUNT}/transactions/sinceid?id={n}" for n in (0, 2, 4)
    ]

    oanda.transactions += LATER
    oanda.trades["99"] = {
        "id": "99",
        "instrument": "EUR_USD",
        "price": "1.10000",
        "openTime": "2026-03-01T10:00:00.000000000Z",
        "initialUnits": "500",
        "currentUnits": "0",
        "state": "CLOSED",
    }
    oanda.balance, oanda.nav = "10004.3500", "10004.3500"
    oanda.requests.clear()
    second = poller(oanda, publisher, state, sync_log)  # a restart: state from the file
    second.run(interval=5.0, backoff=Backoff(), wait=recorder([]), jitter=lambda: 1.0)
    assert oanda.requests[0] == f"/v3/accounts/{OANDA_ACCOUNT}/transactions/sinceid?id=6"
    assert f"/v3/accounts/{OANDA_ACCOUNT}/trades/99" in oanda.requests

    messages = read_topic(kafka, topics.events, at_least=9)
    events = [json.loads(m.value or b"") for m in messages]
    trades = [
        (e["broker_trade_id"], e["status"], e["side"], e["quantity"], e.get("pnl"))
        for e in events
        if e["type"] == "trade"
    ]
    assert trades == [
        ("3", "open", "long", 1000.0, None),
        ("3", "closed", "long", 1000.0, 2.95),
        ("6", "open", "short", 2000.0, None),
        ("6", "closed", "short", 2000.0, 1.9),
        ("99", "closed", "long", 500.0, -0.5),
    ]
    closed_3 = next(e for e in events if e.get("status") == "closed")
    assert (closed_3["symbol"], closed_3["entry_price"], closed_3["exit_price"]) == (
        "EURUSD",
        1.1,
        1.1032,
    )
    assert (closed_3["commission"], closed_3["swap"]) == (-0.1, -0.15)
    assert closed_3["entry_time"] == "2026-03-02T09:00:00.123456Z"
    balances = [(e["ts"], e["balance"], e["equity"]) for e in events if e["type"] == "balance"]
    assert balances == [
        ("2026-03-02T08:00:00Z", 10_000.0, 10_000.0),
        ("2026-03-02T18:00:00Z", 10_002.95, 10_001.95),
        ("2026-03-02T18:00:00Z", 10_004.35, 10_004.35),
    ]
    assert len(events) == 9
    assert events[0]["type"] == "account"
    engine = through_engine(messages)["OANDA-A1"]  # the pipeline's view of the same events
    assert (engine.duplicate_trades, engine.open_trades) == (0, set())

    first_run, second_run = sync_log.logs
    assert (first_run.trades_new, first_run.trades_error, first_run.status) == (4, 0, "success")
    assert (second_run.trades_new, second_run.trades_error, second_run.status) == (2, 1, "partial")
    assert "accountBalance" in second_run.errors[0]["reason"]
    assert "'9'" in second_run.errors[0]["where"]
    assert "429 rate limited" in caplog.text
    assert "timed out" in caplog.text
    assert "RemoteProtocolError" in caplog.text
    assert TOKEN not in caplog.text


def test_a_refused_token_gives_up_at_once_with_the_reason(
    oanda: FakeOanda, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bus = InProcessBus()
    topics = Topics(events="e", breaches="b", deadletter="d", partitions=1)
    publisher = EventPublisher(bus.publisher(), topics)
    pauses: list[float] = []
    wrong = "forged-token-000"
    report = poller(oanda, publisher, tmp_path / "s.json", MemorySyncLogWriter(), token=wrong).run(
        interval=5.0, backoff=Backoff(), wait=recorder(pauses)
    )
    assert report.gave_up is not None
    assert "401: the API token was refused" in report.gave_up
    assert pauses == []  # no retry on a refused token
    assert "giving up" in caplog.text
    assert wrong not in caplog.text and TOKEN not in caplog.text


def test_an_unreachable_server_is_retried_with_backoff_then_given_up(
    oanda: FakeOanda, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    oanda.close()  # the broker's API went away: connection refused from now on
    bus = InProcessBus()
    topics = Topics(events="e", breaches="b", deadletter="d", partitions=1)
    pauses: list[float] = []
    report = poller(
        oanda, EventPublisher(bus.publisher(), topics), tmp_path / "s.json", MemorySyncLogWriter()
    ).run(
        interval=5.0,
        backoff=Backoff(first=1.0, cap=3.0, max_attempts=4),
        wait=recorder(pauses),
        jitter=lambda: 0.0,
    )
    assert pauses == [0.5, 1.0, 1.5]  # halves of 1, 2, 4→3 (capped): jitter 0 waits the least
    assert report.gave_up is not None
    assert report.gave_up.startswith("4 attempts in a row failed; last: GET ")
    assert "ConnectError" in report.gave_up
    assert "giving up: 4 attempts in a row failed" in caplog.text


def test_connect_rest_command(
    oanda: FakeOanda, kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    """``aetheris connect rest --broker oanda`` as its own process, token from a file, its
    sync log in a scratch PostgreSQL database: one row for the poll that found the four
    fills (later polls found nothing and wrote none)."""
    admin_url = os.environ.get(
        "AETHERIS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    with scratch_database(admin_url, prefix="aetheris_test_rest") as database_url:
        run_connect_rest(
            oanda, kafka, topics, {**kafka_env, "DATABASE_URL": database_url}, tmp_path
        )
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT source, format, status, trades_new, trades_error, balance_events "
                "FROM sync_logs"
            ).fetchall()
    # balance events: the deposit (transaction 2) and the summary after the poll
    assert rows == [(f"rest:oanda:{OANDA_ACCOUNT}", "oanda", "success", 4, 0, 2)]


def run_connect_rest(
    oanda: FakeOanda, kafka: KafkaBus, topics: Topics, env: dict[str, str], tmp_path: Path
) -> None:
    oanda.transactions = list(HISTORY)
    oanda.balance, oanda.nav = "10002.9500", "10001.9500"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    log = tmp_path / "rest.log"
    process = aetheris(
        [
            "connect", "rest", "--broker", "oanda", "--api-url", oanda.url,
            "--broker-account", OANDA_ACCOUNT, "--account", "OANDA-CLI",
            "--token-file", str(token_file), "--since-transaction-id", "0",
            "--ruleset", "personal", "--initial-balance", "10000",
            "--interval", "0.5", "--duration", "4", "--data-dir", str(tmp_path / "data"),
        ],
        env,
        log,
    )  # fmt: skip
    try:
        assert process.wait(60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(m.value or b"") for m in read_topic(kafka, topics.events, at_least=6)]
    assert events[0] == {
        "type": "account",
        "account_id": "OANDA-CLI",
        "ruleset": "personal",
        "initial_balance": 10000.0,
        "currency": "USD",
    }
    assert [(e["broker_trade_id"], e["status"]) for e in events if e["type"] == "trade"] == [
        ("3", "open"),
        ("3", "closed"),
        ("6", "open"),
    ]
    assert TOKEN not in log.read_text()
    saved = json.loads(next((tmp_path / "data").rglob("*.json")).read_text())
    assert saved["last_transaction_id"] == 6
