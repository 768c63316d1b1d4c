"""The daily KPI snapshot job: when an account's trading day has ended, compute that
day's KPIs once and store them (``GET /api/v1/metrics/{id}/{date}`` reads them).

It runs on a thread of the notify worker process (``aetheris worker notify``), or alone
(``aetheris worker kpi-snapshots``). PostgreSQL is the only state: each account resumes
after its newest snapshot, and the table's key makes a second runner's insert a no-op, so
any number of runners and restarts store each day once (docs/metrics.md says why no job
library).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from api.metrics import day_clock, kpis_of
from infra.db import metrics as rows
from infra.db.pool import Pool

log = logging.getLogger("aetheris.kpi_snapshots")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KpiSnapshotJob:
    """Snapshots every ended trading day with activity (trades closed or ticks) that has
    none yet; at most ``days_per_round`` days per account and round, oldest first."""

    def __init__(
        self,
        pool: Pool,
        *,
        clock: Callable[[], datetime] = _utc_now,
        days_per_round: int = 31,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._days_per_round = days_per_round

    def run_once(self) -> int:
        """One round over every account; returns how many snapshots it stored."""
        now = self._clock()
        stored = 0
        for account in rows.snapshot_accounts(self._pool):
            stored += self._account_round(account, now)
        return stored

    def _account_round(self, account: rows.AccountBasics, now: datetime) -> int:
        clock = day_clock(account)
        after = rows.last_snapshot_end(self._pool, account.account_id)
        stored = 0
        for _ in range(self._days_per_round):
            first = rows.next_activity(self._pool, account.account_id, after)
            if first is None:
                break
            day = clock.day_of(first)
            if day.end > now:
                break  # the day is not over: its numbers can still change
            data = rows.journal_rows(self._pool, account, day.start, day.end, zone=clock.zone.key)
            kpis = kpis_of(data, clock)
            if rows.save_kpi_snapshot(
                self._pool,
                account.account_id,
                day=day.label,
                bounds=(day.start, day.end),
                kpis=kpis,
                computed_at=now,
            ):
                stored += 1
            after = day.end
        return stored

    def run(self, stop: threading.Event, interval_seconds: float) -> None:
        """Rounds every ``interval_seconds`` until ``stop``; a failed round is logged and
        the next one tries again."""
        while not stop.is_set():
            try:
                stored = self.run_once()
                if stored:
                    log.info("stored %d daily KPI snapshots", stored)
            except (psycopg.Error, ValueError) as exc:
                log.warning(
                    "KPI snapshot round failed, retrying in %.0f s: %s", interval_seconds, exc
                )
            stop.wait(interval_seconds)
