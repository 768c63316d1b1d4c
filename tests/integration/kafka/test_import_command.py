"""``aetheris import`` end to end on the real broker and PostgreSQL.

The sample MT5 report (tests/data/statements/mt5-html) worked by hand, server time
GMT+2/+3-US:

    02-02 07:00Z  deposit 50 000.00                     balance 50 000.00
    02-03 13:00Z  position 10 closed, pnl +76.50        balance 50 076.50
    02-05 07:00Z  position 13 closed, pnl -344.33       balance 49 732.17
    02-06 08:00Z  withdrawal -2 000.00                  balance 47 732.17
    03-09 14:30Z  position 15 closed, pnl +495.00       balance 48 227.17
    03-11 06:00Z  position 17 opened (no balance change)

and one bad deal row (line 35, profit "abc").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.pool import Pool
from schemas.events import AccountEvent, BalanceEvent, TradeEvent
from tests.unit.statements.samples import DATA

from .import_support import account, admin_url, database_url, env, pool, published, run_json
from .support import read_topic

__all__ = ["account", "admin_url", "database_url", "env", "pool"]  # fixtures used here

MT5 = DATA / "mt5-html" / "ReportHistory-51234567.html"


@pytest.mark.usefixtures("env")
def test_mt5_import_registers_publishes_in_order_stores_and_dedups(
    kafka: KafkaBus,
    topics: Topics,
    pool: Pool,
    account: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["import", str(MT5), "--format", "auto", "--account", account]
    argv += ["--ruleset", "ftmo-2step", "--initial-balance", "50000"]
    argv += ["--timezone", "GMT+2/+3-US", "--json"]
    code, first = run_json(argv, capsys)
    assert code == 2  # one bad row, the rest imported
    # 4 trades (3 closed, 1 open) + 2 cash movements are new; the "abc" row is an error.
    assert (first["new"], first["duplicates"], first["updated"]) == (6, 0, 0)
    errors = first["errors"]
    assert isinstance(errors, list)
    assert [(e["row"], e["where"]) for e in errors] == [(35, "Deals/Profit")]
    assert first["format"] == "mt5-html"
    assert first["balance_events"] == 5

    messages, events = published(kafka, topics.events, at_least=10)
    assert len(events) == 10  # the account event, 4 trades, 5 balance events
    assert {m.key for m in messages} == {account.encode()}
    assert isinstance(events[0], AccountEvent)
    assert (events[0].ruleset, events[0].initial_balance, events[0].currency) == (
        "ftmo-2step",
        50000.0,
        "USD",
    )
    shape = [
        (e.broker_trade_id, e.status) if isinstance(e, TradeEvent) else round(e.balance, 2)
        for e in events[1:]
        if isinstance(e, TradeEvent | BalanceEvent)
    ]
    assert shape == [
        50000.0,
        ("10", "closed"),
        50076.5,
        ("13", "closed"),
        49732.17,
        47732.17,
        ("15", "closed"),
        48227.17,
        ("17", "open"),
    ]

    with pool.connection() as conn:
        trades = conn.execute(
            "SELECT broker_trade_id, status, pnl FROM trades WHERE account_id = %s "
            "ORDER BY broker_trade_id",
            (account,),
        ).fetchall()
        ticks = conn.execute(
            "SELECT balance FROM balance_ticks WHERE account_id = %s ORDER BY ts", (account,)
        ).fetchall()
        log = conn.execute(
            "SELECT status, trades_new, trades_error, errors_total, rows_total, errors "
            "FROM sync_logs WHERE id = %s",
            (first["sync_log_id"],),
        ).fetchone()
        letters = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE account_id = %s", (account,)
        ).fetchone()
        registered = conn.execute(
            "SELECT ruleset, initial_balance FROM accounts WHERE account_id = %s", (account,)
        ).fetchone()
    assert [(t[0], t[1], None if t[2] is None else float(t[2])) for t in trades] == [
        ("10", "closed", 76.5),
        ("13", "closed", -344.33),
        ("15", "closed", 495.0),
        ("17", "open", None),
    ]
    assert [round(t[0], 2) for t in ticks] == [50000.0, 50076.5, 49732.17, 47732.17, 48227.17]
    assert log is not None
    assert log[:5] == ("partial", 4, 1, 1, 15)
    assert log[5][0]["row"] == 35
    assert letters == (1,)
    assert registered is not None
    assert (registered[0], float(registered[1])) == ("ftmo-2step", 50000.0)

    # The same file again: nothing new, every row a duplicate, nothing published.
    code, second = run_json(argv, capsys)
    assert code == 2
    assert (second["new"], second["duplicates"], second["updated"]) == (0, 6, 0)
    again = read_topic(kafka, topics.events, at_least=10, timeout=10)
    assert len(again) == len(messages)
    with pool.connection() as conn:
        count = conn.execute(
            "SELECT (SELECT count(*) FROM trades WHERE account_id = %s), "
            "(SELECT count(*) FROM balance_ticks WHERE account_id = %s)",
            (account, account),
        ).fetchone()
    assert count == (4, 5)


@pytest.mark.usefixtures("env")
def test_generic_csv_open_trade_closed_later_is_updated(
    kafka: KafkaBus,
    topics: Topics,
    pool: Pool,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    header = "broker_trade_id,symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl"
    opened = tmp_path / "open.csv"
    opened.write_text(
        f"{header}\nT-1,ES,long,1,2026-03-02 14:30:00,5000,2026-03-02 15:00:00,5010,498.00\n"
        "T-2,ES,short,1,2026-03-02 16:00:00,5020,,,\n"
    )
    closed = tmp_path / "closed.csv"
    closed.write_text(
        f"{header}\nT-2,ES,short,1,2026-03-02 16:00:00,5020,2026-03-02 17:00:00,5000,998.00\n"
    )
    base = ["--account", account, "--ruleset", "topstep-50k", "--initial-balance", "50000"]
    code, first = run_json(["import", str(opened), *base, "--json"], capsys)
    assert code == 0
    # No deposit in the file: the balance starts at the initial 50 000; T-1 closes +498.
    assert (first["new"], first["updated"], first["errors"]) == (2, 0, [])
    code, second = run_json(["import", str(closed), "--account", account, "--json"], capsys)
    assert code == 0
    assert (second["new"], second["updated"], second["duplicates"]) == (0, 1, 0)
    _, events = published(kafka, topics.events, at_least=6)
    balances = [e.balance for e in events if isinstance(e, BalanceEvent)]
    # 50 000 + 498 = 50 498; then T-2 closes +998 from the stored 50 498 = 51 496.
    assert balances == [50498.0, 51496.0]
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT status, pnl FROM trades WHERE account_id = %s AND broker_trade_id = 'T-2'",
            (account,),
        ).fetchone()
    assert row is not None
    assert (row[0], float(row[1])) == ("closed", 998.0)


@pytest.mark.usefixtures("env")
def test_unknown_account_without_registration_fails_with_a_sync_log(
    pool: Pool, account: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run_json(
        ["import", str(MT5), "--account", account, "--timezone", "UTC", "--json"], capsys
    )
    assert code == 2
    assert result["status"] == "failed"
    errors = result["errors"]
    assert isinstance(errors, list)
    assert "is not registered" in errors[0]["reason"]
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT status FROM sync_logs WHERE account_id = %s", (account,)
        ).fetchone()
    assert row == ("failed",)
