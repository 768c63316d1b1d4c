"""Data quality on real data: every import batch is screened (failures dead-lettered with
the reason, the rest stored, the run logged), and ``aetheris db check`` over stored rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aetheris.cli import main
from infra.db.database import prepare_database
from infra.db.migrate import migrations_for
from infra.db.pool import Pool, connect
from infra.quality.imports import import_ticks, import_trades
from infra.quality.stored import check_stored_data
from schemas.events import TradeEvent

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)


def row(account: str, trade_id: str, **changes: Any) -> dict[str, Any]:
    """A closed trade as a connector's row (contract field names, JSON-ish values)."""
    fields: dict[str, Any] = {
        "account_id": account,
        "broker_trade_id": trade_id,
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
        "swap": 0.0,
    }
    return {**fields, **changes}


def test_an_import_stores_good_rows_and_dead_letters_the_rest(pool: Pool, account: str) -> None:
    rows: list[Any] = [
        row(account, "T-1"),
        row(account, "T-1"),  # an exact repeat: a duplicate, not an error
        row(account, "T-2", entry_price=-1.0850),
        row(account, "T-3", exit_time="2026-03-02T08:00:00Z"),
        row(account, "T-4", side="sideways"),
        row(account, "T-5", entry_time="2031-01-01T00:00:00Z", exit_time="2031-01-01T01:00:00Z"),
        row(account, "T-6", pnl=-10.0),
        row(account, "T-6", pnl=-12.0),  # the same trade twice, disagreeing
        row(account, "T-7", entry_time="yesterday-ish"),
        row(account, "T-8", leverage=30),  # passes the suite, not the event contract
        TradeEvent(
            account_id=account,
            broker_trade_id="T-9",
            status="open",
            symbol="XAUUSD",
            side="short",
            quantity=0.5,
            entry_price=2_050.0,
            entry_time=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        ),
    ]

    report = import_trades(pool, rows, source="csv:march.csv", account_id=account, now=NOW)

    reasons = {rejected.row: rejected.reason for rejected in report.rejected}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "entry_price must be greater than 0" in reasons[2]
    assert "exit_time is before entry_time" in reasons[3]
    assert "side must be 'long' or 'short'" in reasons[4]
    assert "entry_time is in the future" in reasons[5]
    assert "another row has the same account_id, broker_trade_id, status" in reasons[6]
    assert reasons[6] == reasons[7]
    assert "entry_time is missing or not a timestamp" in reasons[8]
    assert "leverage" in reasons[9] and "unknown field" in reasons[9]
    assert (report.trades.new, report.repeated_in_batch, report.status) == (2, 1, "partial")

    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT broker_trade_id FROM trades WHERE account_id = %s ORDER BY 1", (account,)
        ).fetchall()
        letters = conn.execute(
            "SELECT source, reason, raw_payload FROM dead_letters WHERE account_id = %s "
            "ORDER BY id",
            (account,),
        ).fetchall()
        log = conn.execute(
            "SELECT source, status, trades_new, trades_updated, trades_duplicate, trades_error, "
            "jsonb_array_length(errors) FROM sync_logs WHERE id = %s",
            (report.sync_log_id,),
        ).fetchone()
    assert stored == [("T-1",), ("T-9",)]
    assert len(letters) == 8
    assert {source for source, _, _ in letters} == {"import:csv:march.csv"}
    assert letters[0][1].startswith("row 2: entry_price must be greater than 0")
    assert json.loads(letters[0][2])["entry_price"] == -1.085
    assert log == ("csv:march.csv", "partial", 2, 0, 1, 8, 8)


def test_reimporting_a_statement_counts_duplicates_and_updates(pool: Pool, account: str) -> None:
    first = [
        row(account, "T-1"),
        row(account, "T-2", status="open", exit_price=None, exit_time=None, pnl=None),
    ]
    second = [row(account, "T-1"), row(account, "T-2", pnl=44.0)]

    import_trades(pool, first, source="rest:sync", now=NOW)
    report = import_trades(pool, second, source="rest:sync", now=NOW)

    assert (report.trades.new, report.trades.updated, report.trades.duplicate) == (0, 1, 1)
    assert report.status == "success" and report.rejected == ()


def test_a_tick_import_keeps_finite_present_ticks(pool: Pool, account: str) -> None:
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {"account_id": account, "ts": at, "balance": 100.0, "equity": 99.0},
        {
            "account_id": account,
            "ts": at + timedelta(seconds=1),
            "balance": 100.0,
            "equity": float("inf"),
        },
        {
            "account_id": account,
            "ts": at + timedelta(seconds=2),
            "balance": float("nan"),
            "equity": 98.0,
        },
        {"account_id": account, "ts": NOW + timedelta(days=1), "balance": 100.0, "equity": 97.0},
        {"account_id": "has space", "ts": at, "balance": 100.0, "equity": 97.0},
        {"account_id": account, "ts": at + timedelta(seconds=3), "balance": 101.0, "equity": 100.5},
    ]

    report = import_ticks(pool, rows, source="csv:equity.csv", now=NOW)

    assert [r.row for r in report.rejected] == [1, 2, 3, 4]
    assert "equity must be a finite number" in report.rejected[0].reason
    assert "balance is missing or not a number" in report.rejected[1].reason
    assert "ts is in the future" in report.rejected[2].reason
    assert "account_id must be 1-128 characters without spaces" in report.rejected[3].reason
    assert report.ticks_stored == 2
    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT equity FROM balance_ticks WHERE account_id = %s ORDER BY ts", (account,)
        ).fetchall()
        log = conn.execute(
            "SELECT status, ticks_stored, trades_error, jsonb_array_length(errors) "
            "FROM sync_logs WHERE id = %s",
            (report.sync_log_id,),
        ).fetchone()
    assert stored == [(99.0,), (100.5,)]
    assert log == ("partial", 2, 0, 4)


def test_a_batch_with_nothing_valid_is_logged_as_failed(pool: Pool, account: str) -> None:
    report = import_trades(pool, [row(account, "T-1", quantity=0)], source="csv:empty.csv", now=NOW)
    assert report.status == "failed"
    assert "quantity must be greater than 0" in report.rejected[0].reason


@pytest.fixture
def checked_database(empty_database_url: str) -> str:
    prepare_database(empty_database_url, timescale="off")
    return empty_database_url


def test_the_stored_data_check_passes_clean_data(checked_database: str) -> None:
    with connect(checked_database) as conn:
        conn.execute(
            "INSERT INTO balance_ticks VALUES ('A', '2026-03-02T09:00Z', 100, 99), "
            "('A', '2026-03-02T09:01Z', 100, 101)"
        )
        conn.execute(
            "INSERT INTO trades (account_id, broker_trade_id, status, symbol, side, quantity, "
            "entry_price, entry_time) VALUES ('A', 'T1', 'open', 'EURUSD', 'long', 1, 1.08, "
            "'2026-03-02T09:00Z')"
        )
        conn.commit()
        report = check_stored_data(conn, now=NOW)

    assert report.success
    assert [(t.table, t.rows) for t in report.tables] == [("trades", 1), ("balance_ticks", 2)]
    assert "RESULT: OK" in report.to_text()


def test_the_stored_data_check_finds_bad_rows(checked_database: str) -> None:
    with connect(checked_database) as conn:
        conn.execute(
            "INSERT INTO balance_ticks VALUES ('A', '2026-03-02T09:00Z', 100, 'Infinity'), "
            "('A', '2031-01-01T00:00Z', 100, 100), ('B', '2026-03-02T09:00Z', 'NaN', 5)"
        )
        conn.execute(
            "INSERT INTO trades (account_id, broker_trade_id, status, symbol, side, quantity, "
            "entry_price, entry_time, exit_price, exit_time, pnl) VALUES "
            "('A', 'T1', 'closed', 'EURUSD', 'long', 1, 1.08, '2026-03-02T09:00Z', 1.1, "
            "'2026-03-02T10:00Z', 'NaN')"
        )
        conn.commit()
        report = check_stored_data(conn, now=NOW, chunk_rows=1)

    failed = {
        table.table: {o.key: o.unexpected_count for o in table.outcomes if not o.success}
        for table in report.tables
    }
    assert failed == {
        "trades": {"closed_has_pnl": 1},
        "balance_ticks": {"ts_not_in_future": 1, "balance_present": 1, "equity_finite": 1},
    }
    assert not report.success
    assert "FAIL equity_finite: equity must be a finite number (1 row)" in report.to_text()


def test_db_check_command_reports_and_sets_the_exit_code(
    checked_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "report.json"
    assert main(["db", "check", "--url", checked_database, "--output", str(output)]) == 0
    with connect(checked_database) as conn:
        conn.execute("INSERT INTO balance_ticks VALUES ('A', '2026-03-02T09:00Z', 1, 'NaN')")
        conn.commit()

    assert main(["db", "check", "--url", checked_database, "--json"]) == 1

    printed = json.loads(capsys.readouterr().out.split("RESULT: OK\n", 1)[1])
    assert printed["success"] is False
    assert json.loads(output.read_text())["success"] is True


def test_db_migrate_and_status_commands(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "status", "--url", empty_database_url]) == 1  # pending migrations
    assert main(["db", "migrate", "--url", empty_database_url, "--timescale", "off"]) == 0
    assert main(["db", "migrate", "--url", empty_database_url]) == 0
    assert main(["db", "status", "--url", empty_database_url]) == 0

    out = capsys.readouterr().out
    assert "applied   0001_core.sql" in out
    migrations = len(migrations_for("postgresql"))
    assert f"schema up to date ({migrations} migrations, 0 applied now)" in out
    assert out.rstrip().endswith("schema up to date")
