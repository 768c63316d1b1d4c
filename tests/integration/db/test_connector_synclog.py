"""A live connector's sync run lands in ``sync_logs`` on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.synclog import PostgresSyncLogWriter, SyncRun
from infra.db.pool import Pool


def test_a_partial_run_is_stored_with_its_counts_and_reasons(pool: Pool, account: str) -> None:
    started = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    run = SyncRun("fix:AETHERIS-BROKER", account, started)
    run.count("new")
    run.count("new")
    run.count("duplicate")
    run.count("updated")
    run.count("ignored")
    run.ticks = 3
    run.error("ExecID E9 (MsgSeqNum 12)", "symbol 'ZZZ' is not in the instrument table")
    writer = PostgresSyncLogWriter(pool)
    writer.write(run, datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT source, status, started_at, finished_at, trades_new, trades_updated, "
            "trades_duplicate, trades_error, ticks_stored, errors FROM sync_logs WHERE id = %s",
            (writer.ids[0],),
        ).fetchone()
    assert row == (
        "fix:AETHERIS-BROKER",
        "partial",
        started,
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        2,
        1,
        1,
        1,
        3,
        [
            {
                "where": "ExecID E9 (MsgSeqNum 12)",
                "reason": "symbol 'ZZZ' is not in the instrument table",
            }
        ],
    )


def test_a_run_of_errors_only_has_failed() -> None:
    run = SyncRun("rest:oanda", "A1", datetime(2026, 3, 2, tzinfo=UTC))
    run.error("transaction 7", "bad units")
    assert run.status == "failed"
    assert SyncRun("rest:oanda", "A1", datetime(2026, 3, 2, tzinfo=UTC)).status == "success"
