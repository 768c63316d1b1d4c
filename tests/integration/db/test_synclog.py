"""The sync-log repository on the real PostgreSQL: a run opened, counted, closed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.db.pool import Pool
from infra.db.synclog import MAX_STORED_ERRORS, SyncLogStore

pytestmark = pytest.mark.integration


def test_a_run_is_opened_running_and_closed_partial(pool: Pool, account: str) -> None:
    store = SyncLogStore(pool)
    started = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    run = store.start(
        "import:mt5-html:report.html",
        account_id=account,
        format="mt5-html",
        rows_total=6,
        details={"currency": "USD"},
        started_at=started,
    )
    opened = store.get(run.id)
    assert opened is not None
    assert (opened.status, opened.rows_total, opened.finished_at) == ("running", 6, None)

    run.count(new=3, duplicate=1, balance_events=4, rows_done=5)
    run.error(row=7, where="Deals/Profit", reason="'abc' is not a number", raw="x" * 500)
    progress = store.progress(run)
    assert (progress.status, progress.rows_done, progress.trades_new) == ("running", 5, 3)

    done = store.finish(run)
    assert done.status == "partial"  # 3 new trades landed despite one bad row
    assert (done.trades_new, done.trades_duplicate, done.trades_error) == (3, 1, 1)
    assert done.errors == [
        {"row": 7, "where": "Deals/Profit", "reason": "'abc' is not a number", "raw": "x" * 200}
    ]
    assert done.details == {"currency": "USD"}
    assert done.finished_at is not None
    assert [r.id for r in store.recent(account)] == [run.id]


def test_only_errors_is_failed_and_errors_are_capped(pool: Pool, account: str) -> None:
    store = SyncLogStore(pool)
    run = store.start("import:generic-csv:bad.csv", account_id=account)
    for row in range(1, MAX_STORED_ERRORS + 6):
        run.error(row=row, reason="no price")
    done = store.finish(run)
    assert done.status == "failed"
    assert done.errors_total == MAX_STORED_ERRORS + 5
    assert len(done.errors) == MAX_STORED_ERRORS


def test_clean_run_is_success_and_fail_records_the_reason(pool: Pool, account: str) -> None:
    store = SyncLogStore(pool)
    clean = store.start("fix:drop-copy", account_id=account)
    clean.count(new=2)
    assert store.finish(clean).status == "success"
    broken = store.start("rest:oanda", account_id=account)
    failed = store.fail(broken, "gave up after 6 attempts: connection refused")
    assert failed.status == "failed"
    assert failed.errors == [
        {"row": None, "where": "", "reason": "gave up after 6 attempts: connection refused"}
    ]
