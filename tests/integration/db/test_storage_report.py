"""`aetheris db check` reports the storage; `aetheris db run-jobs` runs the policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aetheris.cli import main
from infra.db.migrate import Backend
from infra.db.pool import connect
from infra.db.sinks import copy_ticks
from schemas.events import BalanceEvent
from tests.integration.db.conftest import migrated

pytestmark = pytest.mark.integration


def _ticks(account: str, count: int) -> list[BalanceEvent]:
    first = datetime(2026, 3, 2, 9, tzinfo=UTC)
    return [
        BalanceEvent(account_id=account, ts=first + timedelta(seconds=n), balance=1.0, equity=1.0)
        for n in range(count)
    ]


def test_db_check_reports_backend_jobs_lag_and_tick_volume(
    database_url: str, backend: str, account: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(database_url) as conn, conn.cursor() as cur:
        copy_ticks(cur, _ticks(account, 1_234))

    assert main(["db", "check", "--url", database_url, "--storage-only", "--top", "100000"]) == 0
    text = capsys.readouterr().out
    assert f"storage: {backend}" in text
    line = next(row for row in text.splitlines() if row.strip().startswith(account))
    assert "1,234" in line and "2026-03-02 09:00 .. 2026-03-02 09:20" in line

    assert main(["db", "check", "--url", database_url, "--storage-only", "--json"]) == 0
    storage = json.loads(capsys.readouterr().out)["storage"]
    assert storage["backend"] == backend
    assert storage["ticks_total"] >= 1_234
    assert storage["ticks_bytes"] > 0
    if backend == "postgresql":
        assert storage["jobs"] == [] and storage["aggregates"] == []
        assert "kept by triggers" in text
        return
    kinds = sorted((job["kind"], job["target"]) for job in storage["jobs"])
    assert kinds == [
        ("policy_compression", "balance_ticks"),
        ("policy_refresh_continuous_aggregate", "hourly_balance_stats"),
        ("policy_refresh_continuous_aggregate", "hourly_trade_stats"),
        ("policy_retention", "balance_ticks"),
    ]
    assert all(job["scheduled"] is False for job in storage["jobs"])  # paused by the fixture
    assert "(paused)" in text
    assert {a["view"] for a in storage["aggregates"]} == {
        "hourly_balance_stats",
        "hourly_trade_stats",
    }
    assert storage["compression"]["chunks"] >= 1


def test_run_jobs_runs_the_policies_and_check_shows_the_lag(
    empty_database_url: str, backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    url = migrated(empty_database_url, backend)  # its own database: refreshes move its watermark
    if backend == "postgresql":
        assert main(["db", "run-jobs", "--url", url]) == 2
        assert "not on TimescaleDB" in capsys.readouterr().err
        return
    recent = datetime.now(UTC) - timedelta(days=3)
    with connect(url) as conn, conn.cursor() as cur:
        copy_ticks(
            cur,
            [BalanceEvent(account_id="JOB-A", ts=recent, balance=1.0, equity=1.0)],
        )

    assert main(["db", "check", "--url", url, "--storage-only"]) == 0
    assert "hourly_balance_stats: never refreshed" in capsys.readouterr().out

    assert main(["db", "run-jobs", "--url", url, "--kind", "refresh"]) == 0
    out = capsys.readouterr().out
    assert out.count("(policy_refresh_continuous_aggregate)") == 2

    assert main(["db", "check", "--url", url, "--storage-only", "--json"]) == 0
    storage = json.loads(capsys.readouterr().out)["storage"]
    lags = {a["view"]: a for a in storage["aggregates"]}
    # materialised up to the end of the tick's hour
    hour_end = recent.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert datetime.fromisoformat(lags["hourly_balance_stats"]["watermark"]) == hour_end
    assert lags["hourly_balance_stats"]["lag"] > 2 * 86_400

    assert main(["db", "run-jobs", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "(policy_compression)" in out and "(policy_retention)" in out
