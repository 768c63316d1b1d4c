"""The shipped migration files: well formed, and both backends expose the same roll-up."""

from __future__ import annotations

import re

import pytest

from infra.db.migrate import BACKENDS, migration_files, migrations_for
from infra.db.repositories import DAILY_PNL_QUERY
from infra.db.sinks import _INSERT_BREACHES, _UPSERT_TRADES

ROLLUP_COLUMNS = [
    "account_id",
    "day",
    "start_balance",
    "end_balance",
    "net_pnl",
    "gross_profit",
    "gross_loss",
    "trades",
    "wins",
    "losses",
    "max_intraday_drawdown",
    "high_equity",
    "low_equity",
]


def _top_level_items(select_list: str) -> list[str]:
    items, depth, current = [], 0, ""
    for char in select_list:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [*items, current]


def view_columns(sql: str) -> list[str]:
    """The output column names of ``CREATE VIEW daily_account_pnl AS SELECT ... FROM``."""
    body = sql.split("CREATE VIEW daily_account_pnl AS", 1)[1]
    select_list = re.split(r"\bFROM\b", body.split("SELECT", 1)[1], maxsplit=1)[0]
    return [re.findall(r"\w+", item)[-1] for item in _top_level_items(select_list)]


def test_every_version_has_one_file_per_backend() -> None:
    for backend in BACKENDS:
        versions = [m.version for m in migrations_for(backend)]
        assert versions == sorted(set(versions))
        assert versions[0] == 1
    assert {m.filename for m in migration_files()} >= {
        "0001_core.sql",
        "0002_daily_rollup.postgresql.sql",
        "0002_daily_rollup.timescaledb.sql",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_both_backends_define_the_same_rollup_view(backend: str) -> None:
    rollup = next(m for m in migrations_for(backend) if m.name == "daily_rollup")  # type: ignore[arg-type]
    assert view_columns(rollup.sql) == ROLLUP_COLUMNS


def test_the_dashboard_query_reads_every_rollup_column() -> None:
    selected = DAILY_PNL_QUERY.split("SELECT", 1)[1].split("FROM", 1)[0]
    assert [c.strip() for c in selected.split(",")] == ROLLUP_COLUMNS


def test_the_timescale_variant_keeps_the_constraint_names_the_sinks_use() -> None:
    timescale = next(m for m in migrations_for("timescaledb") if m.name == "daily_rollup")
    core = next(m for m in migrations_for("timescaledb") if m.name == "core")
    for statement, constraint in [
        (_UPSERT_TRADES, "trades_broker_trade_key"),
        (_INSERT_BREACHES, "breaches_breach_id_key"),
    ]:
        assert f"ON CONFLICT ON CONSTRAINT {constraint}" in statement
        assert f"CONSTRAINT {constraint} UNIQUE" in core.sql
        assert f"ADD CONSTRAINT {constraint}" in timescale.sql
    for table in ("balance_ticks", "trades", "breaches"):
        assert f"create_hypertable('{table}'" in timescale.sql
    assert "add_continuous_aggregate_policy('daily_balance_stats'" in timescale.sql
    assert "add_retention_policy('balance_ticks'" in timescale.sql
    assert "add_compression_policy('balance_ticks'" in timescale.sql


def test_checksums_follow_the_file_contents() -> None:
    files = migration_files()
    assert len({m.checksum for m in files}) == len(files)
    assert all(re.fullmatch(r"[0-9a-f]{64}", m.checksum) for m in files)
