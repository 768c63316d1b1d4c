"""Every SQL query of the Grafana risk dashboard runs on a migrated TimescaleDB (the
backend the compose stack uses), with Grafana's time macro expanded, and counts a
breach stored by hand."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards" / "risk.json"
TIME_FILTER = re.compile(r"\$__timeFilter\((\w+)\)")


def expand(sql: str) -> str:
    """Grafana's ``$__timeFilter(col)``: the dashboard's range (here the last 7 days)."""
    return TIME_FILTER.sub(r"\1 BETWEEN now() - INTERVAL '7 days' AND now()", sql)


@pytest.mark.parametrize("backend", ["timescaledb"], scope="session")
def test_every_risk_query_runs_and_sees_a_stored_breach(database_url: str, account: str) -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = {panel["title"]: panel["targets"][0]["rawSql"] for panel in panels}
    assert "$__" not in " ".join(expand(sql) for sql in queries.values())
    at = datetime.now(UTC) - timedelta(hours=1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO breaches (breach_id, account_id, rule, level, ts, value, limit_value,"
            " message) VALUES (%s, %s, 'max_daily_loss', 3, %s, 5001, 5000, 'test')",
            (f"grafana-{account}", account, at),
        )
        for title, sql in queries.items():
            rows = conn.execute(expand(sql)).fetchall()
            assert isinstance(rows, list), title
        latest = conn.execute(expand(queries["Latest level-3 breaches"])).fetchall()
        assert any(row[1] == account and row[2] == "max_daily_loss" for row in latest)
        rule_sql = expand(queries["Breaches by rule (time range)"])
        by_rule = {row[0]: row[3] for row in conn.execute(rule_sql).fetchall()}
        assert by_rule["max_daily_loss"] >= 1
