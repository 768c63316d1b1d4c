"""A live connector's runs land in ``sync_logs`` on a real PostgreSQL, through the
statements' SyncLogStore: ``running`` while it goes, then its final counts and status."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.synclog import PostgresSyncLogWriter, SyncRun
from infra.db.pool import Pool, create_pool
from infra.db.retry import RetryPolicy
from infra.db.synclog import SyncLogStore


def test_a_partial_run_is_stored_with_its_counts_and_reasons(pool: Pool, account: str) -> None:
    store = SyncLogStore(pool)
    writer = PostgresSyncLogWriter(store)
    started = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    run = SyncRun("fix:AETHERIS-BROKER", account, started, format="fix")
    writer.start(run)
    run.count("new")
    writer.progress(run)
    [row_id] = writer.ids
    running = store.get(row_id)
    assert running is not None
    assert (running.status, running.trades_new, running.finished_at) == ("running", 1, None)

    run.count("new")
    run.count("duplicate")
    run.count("updated")
    run.count("ignored")
    run.ticks = 3
    run.error("ExecID E9 (MsgSeqNum 12)", "symbol 'ZZZ' is not in the instrument table")
    writer.finish(run, datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    stored = store.get(row_id)
    assert stored is not None
    assert (stored.source, stored.status, stored.format, stored.account_id) == (
        "fix:AETHERIS-BROKER",
        "partial",
        "fix",
        account,
    )
    assert (stored.started_at, stored.finished_at) == (
        started,
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
    )
    assert (
        stored.trades_new,
        stored.trades_updated,
        stored.trades_duplicate,
        stored.trades_error,
        stored.errors_total,
        stored.balance_events,
    ) == (2, 1, 1, 1, 1, 3)
    assert stored.errors == [
        {
            "row": None,
            "where": "ExecID E9 (MsgSeqNum 12)",
            "reason": "symbol 'ZZZ' is not in the instrument table",
        }
    ]
    assert [r.id for r in store.recent(account)] == [row_id]


def test_a_run_of_errors_only_has_failed() -> None:
    run = SyncRun("rest:oanda", "A1", datetime(2026, 3, 2, tzinfo=UTC))
    run.error("transaction 7", "bad units")
    assert run.status == "failed"
    assert SyncRun("rest:oanda", "A1", datetime(2026, 3, 2, tzinfo=UTC)).status == "success"


def test_a_database_that_is_gone_does_not_stop_the_connector(database_url: str) -> None:
    """The writer logs and goes on when the store fails (here: a closed pool)."""
    dead = create_pool(database_url, size=1, timeout=2.0)
    dead.close()
    writer = PostgresSyncLogWriter(SyncLogStore(dead, RetryPolicy(attempts=1)))
    run = SyncRun("rest:oanda", "A1", datetime(2026, 3, 2, tzinfo=UTC))
    writer.start(run)
    writer.progress(run)
    writer.finish(run, datetime(2026, 3, 2, 1, tzinfo=UTC))
    assert writer.ids == []
