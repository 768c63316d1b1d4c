"""`aetheris pipeline run` with DATABASE_URL archives accounts, ticks, trades and status
changes as well as breaches, on either backend; SIGKILLed mid-stream and restarted on its
recovery store it stores every kept tick, trade, breach and status change exactly once
(the real broker, the real databases, separate processes).

Ticks kept (AETHERIS_ARCHIVE_TICK_INTERVAL_SECONDS=3600 here): per account, the last of
each hour, every tick that fired a breach, and the account's latest tick at the end.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from connectors.simulator import SimulatedDesk, to_event
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.migrate import Backend
from infra.db.scratch import scratch_database
from infra.rulesets import RulesetCatalog
from risk_engine import Armor
from schemas import AccountEvent, BalanceEvent, StatusEvent, TradeEvent, event_json, parse_event
from tests.integration.db.conftest import reachable_admin_url
from tests.unit.pipelines.streams import START, breach_days, expected_breaches

from .support import aetheris, publish

INTERVAL = 3600.0
RATE = 2_000  # events per second


def stream() -> list[str]:
    """Daily-loss walks of 40 accounts (ticks on the hour and between) and a simulated
    desk of 6 accounts (trades, ticks every 20 s): about 9,000 events."""
    walks = breach_days(accounts=40, days=12)
    desk = SimulatedDesk(6, seed=5, start=START, tick_interval=timedelta(seconds=20))
    simulated = [event_json(to_event(r)) for r in itertools.islice(desk.records(), 3_000)]
    mixed: list[str] = []
    for walk, sim in itertools.zip_longest(walks, simulated):
        mixed.extend(line for line in (walk, sim) if line is not None)
    return mixed


def expected_ticks(lines: list[str]) -> Counter[tuple[str, datetime, float, float]]:
    fired = {(b.account_id, b.ts) for b in expected_breaches(lines)}
    registered: set[str] = set()
    ticks: dict[str, list[BalanceEvent]] = {}
    for line in lines:
        event = parse_event(line, "test")
        if isinstance(event, AccountEvent):
            registered.add(event.account_id)
        elif isinstance(event, BalanceEvent):
            ticks.setdefault(event.account_id, []).append(event)
    kept: Counter[tuple[str, datetime, float, float]] = Counter()
    for account, series in ticks.items():
        for this, following in itertools.zip_longest(series, series[1:]):
            bucket = int(this.ts.timestamp() // INTERVAL)
            if (
                following is None
                or (account, this.ts) in fired
                or int(following.ts.timestamp() // INTERVAL) != bucket
            ):
                kept[(account, this.ts, this.balance, this.equity)] += 1
    return kept


def expected_statuses(lines: list[str]) -> list[tuple[str, str, str]]:
    """(status_id, account, status) of every status change the pure engine emits."""
    armor = Armor(RulesetCatalog())
    changes: list[tuple[str, str, str]] = []
    for line in lines:
        for output in armor.process_all(parse_event(line, "test")):
            if isinstance(output, StatusEvent):
                changes.append((output.status_id, output.account_id, output.status))
    return changes


def publish_paced(kafka: KafkaBus, topic: str, lines: list[str], done: threading.Event) -> None:
    publisher = kafka.publisher()
    started = time.monotonic()
    for start in range(0, len(lines), 100):
        publish(publisher, topic, lines[start : start + 100])
        pause = started + (start + 100) / RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    done.set()


def _count(url: str, table: str) -> int:
    """Rows in ``table`` (0 until the pipeline has migrated the database)."""
    with psycopg.connect(url) as conn:
        try:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return 0 if row is None else int(row[0])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["postgresql", "timescaledb"])
def test_a_killed_pipeline_archives_everything_exactly_once(
    backend: Backend,
    kafka: KafkaBus,
    topics: Topics,
    kafka_env: dict[str, str],
    tmp_path: Path,
) -> None:
    lines = stream()
    breaches = {b.breach_id for b in expected_breaches(lines)}
    ticks = expected_ticks(lines)
    trades = {
        (e.account_id, e.broker_trade_id)
        for e in (parse_event(line, "t") for line in lines)
        if isinstance(e, TradeEvent)
    }
    accounts = {
        e.account_id
        for e in (parse_event(line, "t") for line in lines)
        if isinstance(e, AccountEvent)
    }
    statuses = expected_statuses(lines)
    assert len(ticks) > 1_000 and len(trades) > 50 and len(breaches) > 1_000
    assert {status for _, _, status in statuses} >= {"locked", "active"}

    admin = reachable_admin_url(backend)
    with scratch_database(admin, prefix="aetheris_archive") as url:
        env = {
            **kafka_env,
            "DATABASE_URL": url,
            "AETHERIS_DB_TIMESCALE": "off" if backend == "postgresql" else "require",
            "AETHERIS_ARCHIVE_TICK_INTERVAL_SECONDS": str(INTERVAL),
        }
        store = tmp_path / "recovery"
        run = ["pipeline", "run", "--recovery-dir", str(store), "--snapshot-interval", "0.5"]
        log = tmp_path / "pipeline.log"
        first = aetheris(run, env, log)
        published = threading.Event()
        producer = threading.Thread(
            target=publish_paced, args=(kafka, topics.events, lines, published), daemon=True
        )
        try:
            producer.start()
            deadline = time.monotonic() + 90
            while _count(url, "balance_ticks") < len(ticks) // 6:
                assert time.monotonic() < deadline, log.read_text()
                assert first.poll() is None, log.read_text()
                time.sleep(0.2)
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
        stored_at_kill = _count(url, "balance_ticks")
        assert stored_at_kill < len(ticks), "the first process finished: not killed mid-stream"

        producer.join(60)
        assert published.is_set()
        second = aetheris([*run, "--until-end"], env, log)
        try:
            assert second.wait(200) == 0, log.read_text()
        finally:
            if second.poll() is None:
                second.kill()

        with psycopg.connect(url) as conn:
            stored_ticks = Counter(
                conn.execute("SELECT account_id, ts, balance, equity FROM balance_ticks").fetchall()
            )
            stored_trades = conn.execute(
                "SELECT account_id, broker_trade_id FROM trades"
            ).fetchall()
            stored_breaches = conn.execute("SELECT breach_id FROM breaches").fetchall()
            stored_accounts = conn.execute("SELECT account_id FROM accounts").fetchall()
            stored_statuses = conn.execute(
                "SELECT status_id, account_id, status FROM account_status_changes"
            ).fetchall()
            migrated = conn.execute("SELECT DISTINCT backend FROM schema_migrations").fetchall()

    assert migrated == [(backend,)]
    assert stored_ticks == ticks  # each kept tick once: none lost, none twice
    assert sorted(stored_trades) == sorted(trades)
    assert sorted(b for (b,) in stored_breaches) == sorted(breaches)
    assert {a for (a,) in stored_accounts} == accounts
    assert sorted(stored_statuses) == sorted(statuses)  # each status change once
