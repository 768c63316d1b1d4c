"""A second ``aetheris demo`` on the same database carries on from the first: the same
accounts with their history, new events after it, nothing stored twice, a failed account
still failed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import psycopg
import pytest

from infra.db.scratch import scratch_database
from tests.e2e.test_demo import _free_port

pytestmark = pytest.mark.integration


def _demo(url: str, seconds: int) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aetheris.cli",
            "demo",
            "--port",
            str(_free_port()),
            "--rate",
            "200",
            "--duration",
            str(seconds),
        ],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _rows(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def test_a_second_run_resumes_the_first(admin_url: str) -> None:
    with scratch_database(admin_url, prefix="aetheris_resume") as url:
        _demo(url, 15)
        last = dict(_rows(url, "SELECT account_id, max(ts) FROM balance_ticks GROUP BY 1"))
        balance = {
            account: _rows(
                url,
                "SELECT balance FROM balance_ticks WHERE account_id = %s AND ts = %s",
                account,
                ts,
            )[0][0]
            for account, ts in last.items()
        }
        breaches = set(_rows(url, "SELECT breach_id, ts FROM breaches"))
        failed = _rows(
            url,
            "SELECT breach_id FROM breaches WHERE account_id = 'SIM00002' "
            "AND rule = 'trailing_drawdown' AND level = 3",
        )
        assert len(last) == 8 and failed, "the first run did not tell its story"
        trades = dict(_rows(url, "SELECT account_id, count(*) FROM trades GROUP BY 1"))

        _demo(url, 6)

        # The first run's alerts are as they were: same ids, same times.
        assert breaches <= set(_rows(url, "SELECT breach_id, ts FROM breaches"))
        # Nothing of the first run stored twice.
        assert (
            _rows(
                url,
                "SELECT account_id, ts FROM balance_ticks GROUP BY 1, 2 HAVING count(*) > 1",
            )
            == []
        )
        # The steady account carries on from its balance, after its last tick.
        first_new: list[tuple[datetime, float]] = _rows(
            url,
            "SELECT ts, balance FROM balance_ticks WHERE account_id = 'SIM00006' AND ts > %s "
            "ORDER BY ts LIMIT 1",
            last["SIM00006"],
        )
        assert first_new, "no new ticks after the first run"
        # It starts flat, so its first new tick has exactly the balance it stopped at.
        assert first_new[0][1] == pytest.approx(balance["SIM00006"], abs=0.005)
        assert balance["SIM00006"] != 100_000.0  # (it had traded: a real continuation)
        # Its new trades are numbered after the old ones: none was overwritten.
        assert (
            _rows(url, "SELECT count(*) FROM trades WHERE account_id = 'SIM00006'")[0][0]
            >= trades["SIM00006"]
        )
        # The failed account stays failed: not one tick after the first run.
        assert (
            _rows(
                url,
                "SELECT count(*) FROM balance_ticks WHERE account_id = 'SIM00002' AND ts > %s",
                last["SIM00002"],
            )[0][0]
            == 0
        )
