"""Raw tick retention on plain PostgreSQL (`aetheris db prune`): old ticks go, in short
batches; the daily roll-up keeps their days; any other DELETE still recomputes its days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aetheris.cli import main
from infra.db.database import prepare_database
from infra.db.errors import StorageError
from infra.db.pool import connect
from infra.db.retention import prune_ticks
from infra.db.scratch import scratch_database
from infra.db.sinks import copy_ticks
from schemas.events import BalanceEvent

pytestmark = pytest.mark.integration

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
ACCOUNTS = ("RET-A", "RET-B")
VIEW = """
SELECT account_id, day, start_balance, end_balance, high_equity, low_equity,
       max_intraday_drawdown
FROM daily_account_pnl ORDER BY account_id, day
"""


@pytest.fixture
def url(admin_url: str) -> Iterator[str]:
    """A migrated database of its own: pruning reads every account."""
    with scratch_database(admin_url, prefix="aetheris_test_retention") as found:
        prepare_database(found, timescale="off")
        yield found


def _load_three_days(url: str) -> None:
    ticks = [
        BalanceEvent(
            account_id=account,
            ts=MONDAY + timedelta(days=day, hours=8, minutes=minute),
            balance=100_000.0 + day * 100,
            equity=100_000.0 + day * 100 - (minute % 7) * 10 - index,
        )
        for index, account in enumerate(ACCOUNTS)
        for day in range(3)
        for minute in range(20)
    ]
    with connect(url) as conn, conn.cursor() as cur:
        copy_ticks(cur, ticks)


def _rows(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return [tuple(row) for row in conn.execute(query, params).fetchall()]


def test_prune_deletes_old_ticks_in_batches_and_keeps_their_days(url: str) -> None:
    _load_three_days(url)
    rollup_before = _rows(url, VIEW)
    assert len(rollup_before) == 6  # two accounts, three days
    cutoff = MONDAY + timedelta(days=2)

    with connect(url) as conn:
        report = prune_ticks(conn, cutoff, batch_size=15)

    assert (report.ticks, report.accounts) == (80, 2)  # 2 accounts x 2 days x 20 ticks
    assert report.batches == 2 * 3  # per account: 15 + 15 + 10 (the last one short)
    left = _rows(
        url, "SELECT account_id, min(ts), count(*) FROM balance_ticks GROUP BY 1 ORDER BY 1"
    )
    assert left == [(account, cutoff + timedelta(hours=8), 20) for account in ACCOUNTS]
    assert _rows(url, VIEW) == rollup_before  # the pruned days' figures are kept

    # Nothing older is left: a second prune deletes nothing and keeps everything.
    with connect(url) as conn:
        assert prune_ticks(conn, cutoff).ticks == 0
    assert _rows(url, VIEW) == rollup_before


def test_a_plain_delete_still_recomputes_its_days(url: str) -> None:
    _load_three_days(url)
    last_day = (MONDAY + timedelta(days=2)).date()
    with connect(url) as conn:
        conn.execute(
            "DELETE FROM balance_ticks WHERE account_id = 'RET-A' AND ts >= %s",
            (MONDAY + timedelta(days=2),),
        )
        conn.commit()
    days_of_a = [row[1] for row in _rows(url, VIEW) if row[0] == "RET-A"]
    assert last_day not in days_of_a
    assert len(days_of_a) == 2


def test_prune_refuses_a_database_that_is_not_migrated(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn, pytest.raises(StorageError, match="not migrated"):
        prune_ticks(conn, MONDAY)


def test_prune_refuses_a_naive_cutoff(url: str) -> None:
    with connect(url) as conn, pytest.raises(ValueError, match="time zone"):
        prune_ticks(conn, MONDAY.replace(tzinfo=None))


def test_db_prune_command(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _load_three_days(url)
    assert main(["db", "prune", "--url", url]) == 2
    assert "--older-than-days N or --before TIMESTAMP" in capsys.readouterr().err
    assert main(["db", "prune", "--url", url, "--before", "2026-03-04T00:00:00"]) == 2
    assert "needs an offset" in capsys.readouterr().err

    assert main(["db", "prune", "--url", url, "--before", "2026-03-03T00:00:00Z"]) == 0
    assert "deleted 40 balance ticks before 2026-03-03T00:00:00+00:00 of 2 accounts" in (
        capsys.readouterr().out
    )
    # Today is long after the loaded days: everything left is older than a day.
    assert main(["db", "prune", "--url", url, "--older-than-days", "1"]) == 0
    assert "deleted 80 balance ticks" in capsys.readouterr().out
    assert _rows(url, "SELECT count(*) FROM balance_ticks") == [(0,)]
    assert len(_rows(url, VIEW)) == 6
