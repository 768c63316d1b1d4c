"""Migrations against a real PostgreSQL: from zero, re-run, concurrent, tampered, backend."""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Any

import psycopg
import pytest

from infra.db.database import prepare_database
from infra.db.errors import MigrationError
from infra.db.migrate import (
    MigrationReport,
    migrate,
    migrations_for,
    timescale_available,
    timescale_preloaded,
)
from infra.db.pool import connect
from schemas.rulesets import builtin_rulesets

pytestmark = pytest.mark.integration

TABLES = {
    "schema_migrations",
    "users",
    "accounts",
    "broker_connections",
    "prop_firm_templates",
    "balance_ticks",
    "trades",
    "breaches",
    "trade_tags",
    "trading_sessions",
    "sync_logs",
    "dead_letters",
    "webhook_endpoints",
    "webhook_deliveries",
    "sink_batches",
    "daily_account_snapshots",
}

SCHEMA_SNAPSHOT = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' '
       || is_nullable || ' ' || coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger', tgrelid::regclass || ' ' || pg_get_triggerdef(oid)
FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'function', p.oid::regprocedure::text || ' ' || md5(pg_get_functiondef(p.oid))
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
UNION ALL
SELECT 'view', viewname || ' ' || md5(definition) FROM pg_views WHERE schemaname = 'public'
ORDER BY 1, 2
"""


def _snapshot(url: str) -> list[tuple[str, str]]:
    with connect(url) as conn:
        return [(row[0], row[1]) for row in conn.execute(SCHEMA_SNAPSHOT).fetchall()]


def test_migrating_from_zero_creates_every_table_and_the_rollup_view(
    empty_database_url: str,
) -> None:
    report = prepare_database(empty_database_url, timescale="off")

    assert report.backend == "postgresql"
    assert [m.filename for m in report.applied] == [
        m.filename for m in migrations_for("postgresql")
    ]
    assert report.already_applied == ()
    with connect(empty_database_url) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            ).fetchall()
        }
        views = {
            row[0]
            for row in conn.execute(
                "SELECT viewname FROM pg_views WHERE schemaname = 'public'"
            ).fetchall()
        }
        recorded = conn.execute(
            "SELECT version, backend FROM schema_migrations ORDER BY version"
        ).fetchall()
    assert tables >= TABLES
    assert "daily_account_pnl" in views
    assert recorded == [(m.version, "postgresql") for m in migrations_for("postgresql")]


def test_rerunning_applies_nothing_and_leaves_the_schema_identical(
    empty_database_url: str,
) -> None:
    first = prepare_database(empty_database_url, timescale="off")
    before = _snapshot(empty_database_url)

    second = prepare_database(empty_database_url, timescale="off")
    third = migrate(empty_database_url)  # auto: the database keeps its backend

    assert first.applied
    assert second.applied == () and third.applied == ()
    assert second.already_applied == tuple(m.version for m in first.applied)
    assert third.backend == "postgresql"
    assert _snapshot(empty_database_url) == before
    assert len(before) > 100  # the snapshot really lists the schema


def test_concurrent_migrations_apply_each_file_once(empty_database_url: str) -> None:
    reports: list[MigrationReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(migrate(empty_database_url, timescale="off"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    applied = [m.filename for report in reports for m in report.applied]
    assert sorted(applied) == sorted(m.filename for m in migrations_for("postgresql"))
    with connect(empty_database_url) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count == (len(migrations_for("postgresql")),)


def test_an_applied_migration_that_changed_is_refused(empty_database_url: str) -> None:
    migrate(empty_database_url, timescale="off")
    with connect(empty_database_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")

    with pytest.raises(MigrationError, match=r"0001_core\.sql changed after it was applied"):
        migrate(empty_database_url, timescale="off")


def test_a_failing_migration_leaves_nothing_half_applied(empty_database_url: str) -> None:
    # A table in the way makes 0001 fail part-way; its transaction rolls back whole.
    with connect(empty_database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE trade_tags (id int)")

    with pytest.raises(MigrationError, match=r"0001_core\.sql failed"):
        migrate(empty_database_url, timescale="off")

    with connect(empty_database_url) as conn:
        recorded = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        users = conn.execute("SELECT to_regclass('users')").fetchone()
    assert recorded == (0,)
    assert users == (None,)


def test_timescale_is_used_only_when_the_server_can_load_it(
    empty_database_url: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(empty_database_url) as conn:
        offered = timescale_available(conn)
        preloaded = timescale_preloaded(conn)

    if backend == "timescaledb":
        assert offered and preloaded
        assert migrate(empty_database_url, timescale="require").backend == "timescaledb"
        return

    # The plain server on this machine: TimescaleDB installed beside it by the services
    # script (offered) but not in its shared_preload_libraries. CREATE EXTENSION there
    # ends the session with a FATAL error; migrate must not try it.
    assert not preloaded
    with pytest.raises(MigrationError) as refused:
        migrate(empty_database_url, timescale="require")
    with connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)
    if offered:
        assert "does not preload its library" in str(refused.value)
        assert "add 'timescaledb' to shared_preload_libraries" in str(refused.value)
    else:
        assert "does not offer the timescaledb extension" in str(refused.value)

    with caplog.at_level(logging.WARNING, logger="aetheris.db"):
        report = migrate(empty_database_url, timescale="auto")
    assert report.backend == "postgresql"
    if offered:
        assert report.note is not None
        assert "add 'timescaledb' to shared_preload_libraries" in report.note
        assert "shared_preload_libraries" in caplog.text
    else:
        assert report.note is None
    with connect(empty_database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone() == (0,)


def test_a_database_keeps_the_backend_it_was_migrated_with(empty_database_url: str) -> None:
    migrate(empty_database_url, timescale="off")

    with pytest.raises(MigrationError, match="migrated for plain PostgreSQL"):
        migrate(empty_database_url, timescale="require")


def test_the_api_queries_have_their_indexes(database_url: str, backend: str) -> None:
    with connect(database_url) as conn:
        indexes = {
            row[0]
            for row in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'"
            ).fetchall()
        }

    def has(fragment: str) -> bool:
        return any(fragment in definition for definition in indexes)

    assert has("ON public.balance_ticks USING btree (account_id, ts DESC)")
    assert has("ON public.trades USING btree (account_id, entry_time DESC)")
    assert has("ON public.breaches USING btree (account_id, ts DESC)")
    if backend == "postgresql":
        assert has(
            "UNIQUE INDEX trades_broker_trade_key ON public.trades USING btree "
            "(account_id, broker_trade_id)"
        )
        assert has("UNIQUE INDEX breaches_breach_id_key ON public.breaches USING btree (breach_id)")
        assert has("ON public.daily_account_snapshots USING btree (account_id, day)")
    else:  # a hypertable's unique keys hold its time column
        assert has(
            "UNIQUE INDEX trades_broker_trade_key ON public.trades USING btree "
            "(account_id, broker_trade_id, entry_time)"
        )
        assert has(
            "UNIQUE INDEX breaches_breach_id_key ON public.breaches USING btree (breach_id, ts)"
        )
        with connect(database_url) as conn:  # the aggregates' own (internal) hypertables
            internal = {
                row[0]
                for row in conn.execute(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = '_timescaledb_internal'"
                ).fetchall()
            }
        assert any("(account_id, exit_hour)" in definition for definition in internal)
        assert any("(account_id, bucket DESC)" in definition for definition in internal)


def test_the_dashboard_query_reads_the_rollup_by_its_key(database_url: str, backend: str) -> None:
    with connect(database_url) as conn:
        conn.execute("SET enable_seqscan = off")
        if backend == "postgresql":
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    "EXPLAIN SELECT * FROM daily_account_pnl WHERE account_id = 'A1' "
                    "AND day BETWEEN '2026-01-01' AND '2026-03-31'"
                ).fetchall()
            )
            assert "daily_account_snapshots_pkey" in plan
            return
        # TimescaleDB: an hour of 2020 materialised (the watermark moves to 2020-01-02;
        # the other tests' rows, later, are still aggregated in real time).
        conn.execute(
            "INSERT INTO balance_ticks SELECT 'IDX-A1', t, 1, 1 FROM generate_series("
            "'2020-01-01 10:00Z'::timestamptz, '2020-01-01 12:00Z', '1 minute') AS t"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute(
            "CALL refresh_continuous_aggregate('hourly_balance_stats', '2020-01-01', '2020-01-02')"
        )
        # The function runs its statement with EXECUTE: auto_explain shows that plan.
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        conn.execute("SET auto_explain.log_min_duration = 0")
        conn.execute("SET auto_explain.log_nested_statements = on")
        conn.execute("SET auto_explain.log_level = notice")
        rows = conn.execute(
            "SELECT day, start_balance "
            "FROM aetheris_daily_pnl('IDX-A1', '2019-12-31', '2020-01-02')"
        ).fetchall()
        conn.execute("RESET auto_explain.log_min_duration")
    assert rows == [(date(2020, 1, 1), 1.0)]
    plan = "\n".join(notices)
    # the hours are read from the materialised aggregate by index, with the watermark a
    # constant (looked up once per call, never evaluated per row in a filter)
    assert "_materialized_hypertable_" in plan
    assert "Index Scan" in plan or "Index Only Scan" in plan
    conditions = [line for line in plan.splitlines() if "Cond:" in line or "Filter:" in line]
    assert conditions and not any("cagg_watermark" in line for line in conditions)
    assert "Seq Scan on _hyper" not in plan


def test_builtin_rule_templates_are_stored(database_url: str) -> None:
    with connect(database_url) as conn:
        rows: dict[str, Any] = dict(
            conn.execute(
                "SELECT name, definition FROM prop_firm_templates WHERE builtin"
            ).fetchall()
        )
    assert set(rows) == set(builtin_rulesets())
    assert rows["ftmo-2step"]["max_daily_loss"]["limit_percent"] == pytest.approx(5.0)


def test_event_tables_reject_rows_outside_the_contract(database_url: str) -> None:
    with connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO trades (account_id, broker_trade_id, status, symbol, side, quantity, "
            "entry_price, entry_time) VALUES ('A', 'T', 'open', 'X', 'sideways', 1, 1, now())"
        )
