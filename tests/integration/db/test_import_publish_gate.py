"""The import stores while it publishes, and commits only once the publish succeeded.

The publisher here is the in-process one with a ``flush`` that first waits until the
import's own store transaction has written its rows and sits waiting (a backend of
this test's pool, idle in a transaction that has written), looks from another
connection that none of them is visible yet, then succeeds or fails. A failed publish
must leave nothing stored (no account, trade, tick or dead letter) and a failed sync
log; the same file imported again with a working bus then stores everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

from connectors.statements.importer import (
    ImportRequest,
    Registration,
    StatementImportError,
    import_statement,
)
from connectors.statements.timezones import resolve_timezone
from infra.bus import EventPublisher, Topics
from infra.bus.memory import InProcessBus, InProcessPublisher
from infra.bus.port import DeliveryError
from infra.db.pool import Pool, create_pool
from infra.db.synclog import SyncLogStore
from tests.unit.statements.samples import DATA

pytestmark = pytest.mark.integration
NOW = datetime(2026, 6, 1, tzinfo=UTC)
TOPICS = Topics(events="events", breaches="breaches", deadletter="dead", partitions=1)

# format -> (sample, its time zone, what an import of it stores, events it publishes).
# The generic CSV takes the columnar path, the MT4 statement the per-row one.
CASES = {
    # G-1, G-2, G-3, G-7 closed and G-6 open; G-4 (side "sideways") and G-5 (hour 25)
    # refused, one dead letter each; a balance tick after each closed trade. Published:
    # the account, 5 trades, 4 balance events.
    "generic-csv": (
        "trades.csv",
        None,
        {"accounts": 1, "trades": 5, "balance_ticks": 4, "dead_letters": 2},
        10,
    ),
    # 1001, 1002, 1005 closed and 1007 open; the deposit and the withdrawal; 1006 (hour
    # 25) refused. A balance tick after the deposit, each closed trade and the
    # withdrawal. Published: the account, 4 trades, 5 balance events.
    "mt4-html": (
        "statement-2150977.htm",
        "GMT+2/+3-US",
        {"accounts": 1, "trades": 4, "balance_ticks": 5, "dead_letters": 1},
        10,
    ),
}
NOTHING = {"accounts": 0, "trades": 0, "balance_ticks": 0, "dead_letters": 0}


@pytest.fixture
def gate_pool(database_url: str) -> Iterator[tuple[Pool, str]]:
    """A pool of its own, named so that its backends can be told from other tests'."""
    name = f"import-gate-{uuid4().hex[:8]}"
    pool = create_pool(database_url, size=2, name=name, application_name=name)
    yield pool, name
    pool.close()


class GatedPublisher(InProcessPublisher):
    """Delivers into the in-process bus; ``flush`` checks that the store is waiting on
    it with nothing visible, then returns or raises :class:`DeliveryError`."""

    def __init__(
        self,
        bus: InProcessBus,
        url: str,
        application: str,
        account: str,
        *,
        fail: bool,
        kill_store: bool = False,
    ) -> None:
        super().__init__(bus)
        self.url, self.application, self.account, self.fail = url, application, account, fail
        self.kill_store = kill_store  # terminate the waiting store's backend, then succeed
        self.killed = False
        self.seen_waiting = False
        self.visible_while_waiting: dict[str, int] = {}

    def flush(self, timeout: float = 30.0) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                waiting = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                    "AND state = 'idle in transaction' AND backend_xid IS NOT NULL",
                    (self.application,),
                ).fetchone()
                if waiting is not None and waiting[0] == 1:
                    self.seen_waiting = True
                    break
                time.sleep(0.02)
            self.visible_while_waiting = counts(conn, self.account)
            if self.kill_store and self.seen_waiting:
                ended = conn.execute(
                    "SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity "
                    "WHERE application_name = %s AND state = 'idle in transaction'",
                    (self.application,),
                ).fetchall()
                self.killed = [bool(e) for (e,) in ended] == [True]
        if self.fail:
            raise DeliveryError("3 messages were not delivered: the broker said no")


def counts(conn: psycopg.Connection[TupleRow], account: str) -> dict[str, int]:
    """How many rows of ``account`` each table shows to ``conn``."""
    found = {}
    for table in ("accounts", "trades", "balance_ticks", "dead_letters"):
        query = sql.SQL("SELECT count(*) FROM {} WHERE account_id = %s").format(
            sql.Identifier(table)
        )
        row = conn.execute(query, (account,)).fetchone()
        found[table] = row[0] if row else -1
    return found


def stored(url: str, account: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return counts(conn, account)


def import_with(
    pool: Pool, publisher: InProcessPublisher, bus: InProcessBus, req: ImportRequest
) -> int:
    """Import; returns how many events reached the bus."""
    before = len(bus.reader(TOPICS.events).read(100_000, 0.05))
    import_statement(req, pool=pool, publisher=EventPublisher(publisher, TOPICS), now=NOW)
    return len(bus.reader(TOPICS.events).read(100_000, 0.05)) - before


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_failed_publish_stores_nothing_and_a_retry_stores_everything(
    gate_pool: tuple[Pool, str], database_url: str, case: str
) -> None:
    pool, application = gate_pool
    fmt = case
    sample, zone, expected, events = CASES[case]
    account = f"GATE-{uuid4().hex[:10]}"
    req = ImportRequest(
        data=(DATA / fmt / sample).read_bytes(),
        filename=sample,
        account_id=account,
        format_name=fmt,
        timezone=resolve_timezone(zone) if zone else None,
        registration=Registration("ftmo-2step", 10_000),
    )
    bus = InProcessBus()
    bus.create_topics(TOPICS.all(), 1)

    failing = GatedPublisher(bus, database_url, application, account, fail=True)
    with pytest.raises(DeliveryError, match="the broker said no"):
        import_with(pool, failing, bus, req)
    # The store had written everything and waited on the publish, invisible to others.
    assert failing.seen_waiting
    assert failing.visible_while_waiting == NOTHING
    # ... and rolled back when it failed: not one row of any kind.
    assert stored(database_url, account) == NOTHING
    with pool.connection() as conn:
        logs = conn.execute(
            "SELECT id, status FROM sync_logs WHERE account_id = %s", (account,)
        ).fetchall()
    assert [status for _, status in logs] == ["failed"]
    record = SyncLogStore(pool).get(logs[0][0])
    assert record is not None
    assert [e["reason"] for e in record.errors] == [
        "DeliveryError: 3 messages were not delivered: the broker said no"
    ]

    working = GatedPublisher(bus, database_url, application, account, fail=False)
    assert import_with(pool, working, bus, req) == events
    assert working.seen_waiting
    assert working.visible_while_waiting == NOTHING
    assert stored(database_url, account) == expected


def test_a_store_whose_connection_drops_while_it_waits_retries_once(
    gate_pool: tuple[Pool, str], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server ends the store's session while it waits on the publish: the
    transaction is lost, the store runs again on a new connection and everything lands
    once (the publish is not repeated)."""
    pool, application = gate_pool
    sample, _zone, expected, events = CASES["generic-csv"]
    account = f"GATE-{uuid4().hex[:10]}"
    req = ImportRequest(
        data=(DATA / "generic-csv" / sample).read_bytes(),
        filename=sample,
        account_id=account,
        format_name="generic-csv",
        registration=Registration("ftmo-2step", 10_000),
    )
    bus = InProcessBus()
    bus.create_topics(TOPICS.all(), 1)
    publisher = GatedPublisher(bus, database_url, application, account, fail=False, kill_store=True)
    with caplog.at_level(logging.WARNING, logger="aetheris"):
        assert import_with(pool, publisher, bus, req) == events
    assert publisher.seen_waiting and publisher.killed
    retries = [r.getMessage() for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    assert len(retries) == 1 and retries[0].startswith("import batch "), caplog.text
    assert stored(database_url, account) == expected
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT status, trades_new FROM sync_logs WHERE account_id = %s", (account,)
        ).fetchone()
    assert row == ("partial", 5)


def test_an_import_that_cannot_run_is_not_gated(gate_pool: tuple[Pool, str]) -> None:
    """An unknown account fails before anything is published or stored (no deadlock
    on the gate, the sync log says why)."""
    pool, _ = gate_pool
    bus = InProcessBus()
    bus.create_topics(TOPICS.all(), 1)
    req = ImportRequest(
        data=(DATA / "generic-csv" / "trades.csv").read_bytes(),
        filename="trades.csv",
        account_id=f"NOPE-{uuid4().hex[:8]}",
        format_name="generic-csv",
    )
    with pytest.raises(StatementImportError, match="not registered"):
        import_with(pool, InProcessPublisher(bus), bus, req)


def test_a_pool_of_one_connection_imports_a_file_whose_guess_fails(
    database_url: str, tmp_path: Path
) -> None:
    """With one connection the store cannot hold it while the importer reads the stored
    balance again (a row failed the suite, so the guessed ticks are wrong): it stores
    after the publish instead, and the import completes."""
    pool = create_pool(database_url, size=1, name="import-one", timeout=5)
    account = f"ONE-{uuid4().hex[:10]}"
    path = tmp_path / "one.csv"
    path.write_text(
        "broker_trade_id,symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl\n"
        # the first trade of the file closes in 2027, after the run's clock: refused by
        # the suite, so the balance starts at the next one's time
        "Q-1,ES,long,1,2027-03-02 14:30:00,5000,2027-03-02 15:00:00,5002,100\n"
        "Q-2,ES,long,1,2026-03-02 14:30:00,5000,2026-03-02 15:00:00,5002,100\n"
        "Q-3,ES,short,1,2026-03-03 14:30:00,5000,2026-03-03 15:00:00,5001,-40\n"
    )
    req = ImportRequest(
        data=path.read_bytes(),
        filename=path.name,
        account_id=account,
        format_name="generic-csv",
        registration=Registration("topstep-50k", 50_000),
    )
    bus = InProcessBus()
    bus.create_topics(TOPICS.all(), 1)
    try:
        result = import_statement(
            req, pool=pool, publisher=EventPublisher(InProcessPublisher(bus), TOPICS), now=NOW
        )
    finally:
        pool.close()
    assert (result.new, [(e.row, e.where) for e in result.errors]) == (2, [(2, "quality")])
    # 50 000 + 100 = 50 100; - 40 = 50 060
    with psycopg.connect(database_url) as conn:
        ticks = conn.execute(
            "SELECT balance FROM balance_ticks WHERE account_id = %s ORDER BY ts", (account,)
        ).fetchall()
    assert ticks == [(50_100.0,), (50_060.0,)]
