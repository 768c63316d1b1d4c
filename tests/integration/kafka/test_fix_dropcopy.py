"""The FIX drop-copy connector against a real QuickFIX acceptor on 127.0.0.1, publishing to
real Kafka: fills, a PossDup resend, a restart (sequence numbers from the FileStore, the
missed report recovered by a ResendRequest), a dropped connection and a correction.

Account 50,000 USD. Hand-derived numbers:
- E1 buy 2 ES @ 5,000, commission 4.20 → open E1; balance 49,995.80.
- E2 sell 1 @ 5,006, 2.10 → realised (5,006 − 5,000) × 50 = 300; balance 50,293.70,
  equity + (5,006 − 5,000) × 1 × 50 = 50,593.70.
- E2 sent again → a duplicate by ExecID, nothing published.
- (connector stopped) E3 sell 1 @ 5,004, 2.10 is stored at the acceptor. The connector's
  FileStore is set back to expect the acceptor's message 1, as if it had crashed before
  QuickFIX saved its sequence numbers: on logon it asks for a resend of everything, and
  the acceptor resends E1, N1, E2, E2 with PossDup=Y (not applied again) and E3 (new).
  E3: realised 200; closed E1: 2 @ 5,000 → 5,005, P&L 500 − 8.40 = 491.60;
  balance 50,491.60.
- (connection dropped, reconnected) E4 sell 1 NQ @ 18,000, 1.00 → open E4; 50,490.60.
- C4 corrects E4 to 18,002 (150=G, 19=E4) → updated; balance unchanged 50,490.60.
- E6 buy 1 NQ @ 17,990 → closed E4: (18,002 − 17,990) × 20 − 1 = 239;
  balance 50,490.60 + 240 = 50,730.60.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.fix.book import DropCopyBook
from connectors.fix.connector import DropCopyHandler, FixSessionConfig, run_drop_copy
from connectors.instruments import load_instruments
from connectors.statefile import JsonStateFile
from connectors.synclog import MemorySyncLogWriter
from infra.bus import EventPublisher, Topics
from infra.bus.kafka import KafkaBus
from schemas import AccountEvent
from tests.integration.kafka.fix_support import Acceptor, wait_for
from tests.integration.kafka.support import aetheris, read_topic, through_engine

PASSWORD = "drop-copy-pw-7f3a"


@pytest.fixture
def acceptor(tmp_path: Path) -> Iterator[Acceptor]:
    counterparty = Acceptor(tmp_path / "acceptor-store", "BROKER", "AETHERIS")
    yield counterparty
    counterparty.close()


def fill(exec_id: str, side: str, qty: str, px: str, time: str, **extra: str) -> dict[int, str]:
    tags = {17: exec_id, 150: "F", 39: "2", 55: "ES", 54: side, 32: qty, 31: px, 60: time}
    tags.update({int(k[1:]): v for k, v in extra.items()})
    return tags


class Connector:
    """The connector in a thread of this process, restartable over the same data dir."""

    def __init__(self, config: FixSessionConfig, kafka: KafkaBus, topics: Topics) -> None:
        self.config = config
        self.kafka = kafka
        self.topics = topics
        self.sync_log = MemorySyncLogWriter()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.handler: DropCopyHandler | None = None

    def start(self, account: AccountEvent | None = None) -> DropCopyHandler:
        book = DropCopyBook(
            "FIX-A1", currency="USD", initial_balance=50_000.0, instruments=load_instruments()
        )
        self.handler = DropCopyHandler(
            book,
            EventPublisher(self.kafka.publisher(), self.topics),
            JsonStateFile(self.config.session_dir / "book.json"),
            self.sync_log,
            source="fix:AETHERIS-BROKER",
        )
        self.stop.clear()
        self.thread = threading.Thread(
            target=run_drop_copy,
            args=(self.config, self.handler, self.stop),
            kwargs={"account": account},
        )
        self.thread.start()
        return self.handler

    def halt(self) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_drop_copy_across_restart_disconnect_and_correction(
    acceptor: Acceptor,
    kafka: KafkaBus,
    topics: Topics,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = FixSessionConfig(
        host="127.0.0.1",
        port=acceptor.port,
        sender_comp_id="AETHERIS",
        target_comp_id="BROKER",
        data_dir=tmp_path / "data",
        reconnect_seconds=1,
        heartbeat_seconds=1,
        password=PASSWORD,
    )
    connector = Connector(config, kafka, topics)
    account = AccountEvent(
        account_id="FIX-A1", ruleset="topstep-50k", initial_balance=50_000.0, currency="USD"
    )
    handler = connector.start(account)
    first_logon = acceptor.expect("LOGON").split()
    assert first_logon[1] == "1"  # a fresh FileStore starts at 1
    assert first_logon[2] == PASSWORD  # the Logon carried the password (554)
    wait_for(handler.logged_on.is_set, "the first logon")
    acceptor.expect("HEARTBEAT", timeout=10)  # HeartBtInt=1: QuickFIX keeps the session alive

    acceptor.send(fill("E1", "1", "2", "5000", "20260302-14:00:00", t12="4.20", t13="3"))
    acceptor.send({**fill("N1", "1", "1", "5000", "20260302-14:00:01"), 150: "0", 39: "0"})
    acceptor.send(fill("E2", "2", "1", "5006", "20260302-14:01:00", t12="2.10"))
    acceptor.send(fill("E2", "2", "1", "5006", "20260302-14:01:00", t12="2.10", t43="Y"))
    wait_for(lambda: handler.run is not None and handler.run.duplicate == 1, "the duplicate")
    connector.halt()
    acceptor.expect("LOGOUT")

    acceptor.send(fill("E3", "2", "1", "5004", "20260302-14:02:00", t12="2.10"))  # stored only
    seqnums = next((config.session_dir / "store").glob("*.seqnums"))
    sender_next, _, _ = seqnums.read_text().partition(" : ")
    seqnums.write_text(f"{sender_next} : 0000000001")
    handler = connector.start()
    second_logon = acceptor.expect("LOGON").split()
    assert int(second_logon[1]) > 2  # our sequence numbers came back from the FileStore
    assert acceptor.expect("RESEND").split()[1] == "1"  # asked again from message 1
    wait_for(lambda: handler.run is not None and handler.run.new == 1, "E3 through the resend")
    assert handler.run is not None
    assert (handler.run.new, handler.run.duplicate, handler.run.ignored) == (1, 3, 1)

    acceptor.command({"drop": True}, "DROPPED")
    acceptor.expect("LOGON")  # QuickFIX reconnected by itself
    wait_for(handler.logged_on.is_set, "the logon after the drop")
    nq = {55: "NQ"}
    acceptor.send({**fill("E4", "2", "1", "18000", "20260302-14:10:00", t12="1.00"), **nq})
    acceptor.send(
        {
            **fill("C4", "2", "1", "18002", "20260302-14:11:00", t12="1.00"),
            **nq,
            150: "G",
            19: "E4",
        }
    )
    acceptor.send({**fill("E6", "1", "1", "17990", "20260302-14:12:00"), **nq})
    wait_for(lambda: handler.run is not None and handler.run.new == 2, "E6")
    connector.halt()

    messages = read_topic(kafka, topics.events, at_least=11)
    events = [json.loads(m.value or b"") for m in messages]
    assert {m.key for m in messages} == {b"FIX-A1"}
    assert events[0]["type"] == "account"
    trades = [
        (e["broker_trade_id"], e["status"], e.get("pnl")) for e in events if e["type"] == "trade"
    ]
    assert trades == [
        ("E1", "open", None),
        ("E1", "closed", 491.6),
        ("E4", "open", None),
        ("E4", "closed", 239.0),
    ]
    closed_e1 = next(e for e in events if e.get("status") == "closed")
    assert (closed_e1["quantity"], closed_e1["entry_price"], closed_e1["exit_price"]) == (
        2.0,
        5000.0,
        5005.0,
    )
    assert closed_e1["commission"] == -8.4
    balances = [(e["balance"], e["equity"]) for e in events if e["type"] == "balance"]
    assert balances == [
        (49_995.8, 49_995.8),
        (50_293.7, 50_593.7),
        (50_491.6, 50_491.6),
        (50_490.6, 50_490.6),
        (50_490.6, 50_490.6),
        (50_730.6, 50_730.6),
    ]
    assert len(events) == 11
    engine = through_engine(messages)["FIX-A1"]  # the pipeline's view of the same events
    assert (engine.duplicate_trades, engine.open_trades) == (0, set())

    runs = [
        (log.trades_new, log.trades_updated, log.trades_duplicate)
        for log in connector.sync_log.logs
    ]
    assert (2, 0, 1) in runs  # E1, E2 new; E2's PossDup resend a duplicate
    assert (1, 0, 3) in runs  # after the restart: E3 new, the PossDup resends duplicates
    assert (2, 1, 0) in runs  # E4, E6 new; C4 an update
    assert all(log.status == "success" for log in connector.sync_log.logs)
    assert PASSWORD not in caplog.text
    assert "logged on" in caplog.text
    assert "a PossDup resend" in caplog.text


def test_connect_fix_command_publishes_a_round_trip(
    acceptor: Acceptor, kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    """``aetheris connect fix`` as its own process: MES (×5) buy 3 @ 5,000, sell 3 @ 5,002
    → closed, P&L 2 × 3 × 5 = 30; the account registered first."""
    password_file = tmp_path / "fix-password"
    password_file.write_text(PASSWORD + "\n")
    log = tmp_path / "connect.log"
    process = aetheris(
        [
            "connect", "fix", "--host", "127.0.0.1", "--port", str(acceptor.port),
            "--sender-comp-id", "AETHERIS", "--target-comp-id", "BROKER",
            "--account", "FIX-CLI", "--ruleset", "personal", "--initial-balance", "25000",
            "--password-file", str(password_file), "--data-dir", str(tmp_path / "data"),
            "--reconnect", "1", "--duration", "8", "--no-sync-log",
        ],
        kafka_env,
        log,
    )  # fmt: skip
    try:
        acceptor.expect("LOGON", timeout=30)
        acceptor.send({**fill("M1", "1", "3", "5000", "20260302-15:00:00"), 55: "MES"})
        acceptor.send({**fill("M2", "2", "3", "5002", "20260302-15:01:00"), 55: "MES"})
        assert process.wait(60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(m.value or b"") for m in read_topic(kafka, topics.events, at_least=5)]
    assert [e["type"] for e in events] == ["account", "trade", "balance", "trade", "balance"]
    assert events[0]["initial_balance"] == 25_000.0
    assert (events[3]["status"], events[3]["pnl"]) == ("closed", 30.0)
    assert events[4]["balance"] == 25_030.0
    assert PASSWORD not in log.read_text()


def test_a_refused_logon_is_logged_with_the_brokers_reason_not_the_password(
    tmp_path: Path, kafka: KafkaBus, topics: Topics, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong password: the acceptor answers the Logon with a Logout; the connector logs
    the broker's reason, and says so while it is still not logged on."""
    caplog.set_level(logging.INFO)
    strict = Acceptor(tmp_path / "strict", "BROKER", "AETHERIS", password="the-right-one")
    forged = "forged-password-1"
    try:
        config = FixSessionConfig(
            host="127.0.0.1",
            port=strict.port,
            sender_comp_id="AETHERIS",
            target_comp_id="BROKER",
            data_dir=tmp_path / "data",
            reconnect_seconds=1,
            password=forged,
        )
        connector = Connector(config, kafka, topics)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("connectors.fix.connector.NOT_LOGGED_ON_WARNING_SECONDS", 1.0)
            handler = connector.start()
            strict.expect("REFUSED")
            wait_for(lambda: "not logged on to 127.0.0.1" in caplog.text, "the warning")
            connector.halt()
    finally:
        strict.close()
    assert not handler.logged_on.is_set()
    assert "the broker logged us out: bad credentials" in caplog.text
    assert forged not in caplog.text
