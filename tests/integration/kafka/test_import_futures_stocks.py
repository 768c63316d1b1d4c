"""``aetheris import`` end to end for the IBKR and Tradovate formats, on the real Kafka-
protocol broker and PostgreSQL.

IBKR Activity Statement (tests/data/statements/ibkr-activity-csv/activity_single_account.csv),
worked by hand (US Eastern times; balance starts at 0 because the first event is the
account's funding):

    03-05 05:00Z  deposit 25 000.00                    balance 25 000.00
    03-06 05:00Z  market data fee −10.00               balance 24 990.00
    03-06 15:15Z  AAPL 60 closed, pnl +298.80          balance 25 288.80
    03-06 20:30Z  MESM6 2 (short) closed, pnl +95.02   balance 25 383.82
    03-09 04:00Z  withdrawal −1 500.00                 balance 23 883.82
    03-09 15:00Z  AAPL 40 closed, pnl −61.40           balance 23 822.42
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.pool import Pool
from schemas.events import BalanceEvent, TradeEvent

from .import_support import account, admin_url, database_url, env, pool, published, run_json
from .support import read_topic

__all__ = ["account", "admin_url", "database_url", "env", "pool"]  # fixtures used here

DATA = Path(__file__).resolve().parents[2] / "data" / "statements"
IBKR = DATA / "ibkr-activity-csv" / "activity_single_account.csv"
TRADOVATE = DATA / "tradovate-csv"


@pytest.mark.usefixtures("env")
def test_ibkr_activity_statement_imports_publishes_in_order_and_dedups(
    kafka: KafkaBus,
    topics: Topics,
    pool: Pool,
    account: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["import", str(IBKR), "--format", "auto", "--account", account]
    argv += ["--ruleset", "personal", "--initial-balance", "25000", "--json"]
    code, first = run_json(argv, capsys)
    assert code == 0
    assert first["format"] == "ibkr-activity-csv"
    # 3 closed trades + 3 cash movements
    assert (first["new"], first["duplicates"], first["updated"], first["errors"]) == (6, 0, 0, [])

    messages, events = published(kafka, topics.events, at_least=10)
    shape = [
        (e.symbol, e.pnl) if isinstance(e, TradeEvent) else round(e.balance, 2)
        for e in events
        if isinstance(e, TradeEvent | BalanceEvent)
    ]
    assert shape == [
        25000.0,
        24990.0,
        ("AAPL", 298.8),
        25288.8,
        ("MESM6", 95.02),
        25383.82,
        23883.82,
        ("AAPL", -61.4),
        23822.42,
    ]
    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT symbol, side, quantity, pnl, commission FROM trades "
            "WHERE account_id = %s ORDER BY exit_time",
            (account,),
        ).fetchall()
    assert [(s, side, float(q), float(p), float(c)) for s, side, q, p, c in stored] == [
        ("AAPL", "long", 60.0, 298.8, -1.2),
        ("MESM6", "short", 2.0, 95.02, -2.48),
        ("AAPL", "long", 40.0, -61.4, -1.4),
    ]

    # The same file again: every row a duplicate, nothing new published or stored.
    code, second = run_json(argv, capsys)
    assert code == 0
    assert (second["new"], second["duplicates"], second["updated"]) == (0, 6, 0)
    again = read_topic(kafka, topics.events, at_least=len(messages), timeout=5)
    assert len(again) == len(messages)
    with pool.connection() as conn:
        count = conn.execute(
            "SELECT count(*) FROM trades WHERE account_id = %s", (account,)
        ).fetchone()
    assert count == (3,)


@pytest.mark.usefixtures("env")
def test_tradovate_three_exports_of_one_day_add_each_trade_once(
    kafka: KafkaBus,
    topics: Topics,
    pool: Pool,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Position History of two accounts: this test's account stands in for APEX-1001.
    history = tmp_path / "position_history.csv"
    history.write_text(
        (TRADOVATE / "position_history.csv").read_text().replace("APEX-1001", account)
    )
    base = ["--account", account, "--json"]
    code, first = run_json(
        ["import", str(history), *base, "--ruleset", "topstep-50k", "--initial-balance", "50000"],
        capsys,
    )
    # 2 trades of this account (+22.50, −42.50); APEX-1002's row is skipped
    assert (code, first["new"], first["duplicates"], first["errors"]) == (0, 2, 0, [])

    code, second = run_json(["import", str(TRADOVATE / "performance.csv"), *base], capsys)
    # the same two pairs again (duplicates) and 4 more: +305, +20, −18, +1,250
    assert (code, second["new"], second["duplicates"]) == (0, 4, 2)

    code, third = run_json(["import", str(TRADOVATE / "fills.csv"), *base], capsys)
    # the fills pair into the same 6 ids (duplicates) and the scale-in's 2 pairs
    # (+23.76, +13.76) are new
    assert (code, third["new"], third["duplicates"]) == (0, 2, 6)

    _, events = published(kafka, topics.events, at_least=17)
    balances = [round(e.balance, 2) for e in events if isinstance(e, BalanceEvent)]
    # 50 000 + 22.50 − 42.50 = 49 980; + 1 557 = 51 537; + 37.52 = 51 574.52
    assert balances[1] == 49980.0 and balances[5] == 51537.0
    assert balances[-1] == 51574.52
    with pool.connection() as conn:
        ids = conn.execute(
            "SELECT broker_trade_id FROM trades WHERE account_id = %s ORDER BY broker_trade_id",
            (account,),
        ).fetchall()
    assert [i[0] for i in ids] == [
        "2101-2102",
        "2103-2104",
        "2106-2105",
        "2107-2108",
        "2107-2109",
        "2110-2111",
        "2112-2114",
        "2113-2114",
    ]


# (format folder, file, broker account to stand in for, trades, cash rows, Σ pnl, Σ cash,
#  rows reported): the figures the unit tests derive by hand from each sample file.
SAMPLES = [
    ("ibkr-activity-csv", "activity_single_account.csv", None, 3, 3, 332.42, 23490.0, 0),
    ("ibkr-activity-csv", "activity_two_accounts.csv", "U1111111", 1, 1, 11.26, 5000.0, 0),
    ("ibkr-activity-csv", "activity_closed_lots.csv", None, 1, 0, 798.0, 0.0, 1),
    ("ibkr-flex-xml", "flex_two_accounts.xml", "U1111111", 2, 2, -23.72, 9990.0, 0),
    ("tradovate-csv", "performance.csv", None, 6, 0, 1537.0, 0.0, 0),
    ("tradovate-csv", "position_history.csv", "APEX-1001", 2, 0, -20.0, 0.0, 0),
    ("tradovate-csv", "fills.csv", None, 8, 0, 1554.78, 0.0, 0),
    ("ninjatrader-csv", "executions.csv", "APEX-1001", 3, 0, 267.18, 0.0, 0),
    ("ninjatrader-csv", "trades.csv", "APEX-1001", 3, 0, 267.18, 0.0, 0),
    ("ninjatrader-csv", "executions_de.csv", None, 1, 0, 11.26, 0.0, 0),
    ("ninjatrader-csv", "executions_en_gb.csv", None, 2, 0, -2.0, 0.0, 0),
    ("topstepx-csv", "trades.csv", None, 5, 0, 18.74, 0.0, 0),
]


@pytest.mark.parametrize(
    ("folder", "filename", "stand_in", "trades", "cash", "pnl", "cash_total", "reported"),
    SAMPLES,
    ids=[f"{folder}/{filename}" for folder, filename, *_ in SAMPLES],
)
@pytest.mark.usefixtures("env")
def test_every_sample_imports_its_counts_and_amounts_and_then_only_duplicates(
    pool: Pool,
    account: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    folder: str,
    filename: str,
    stand_in: str | None,
    trades: int,
    cash: int,
    pnl: float,
    cash_total: float,
    reported: int,
) -> None:
    path = DATA / folder / filename
    if stand_in is not None:  # a several-account file: this test's account plays one
        path = tmp_path / filename
        path.write_bytes(
            (DATA / folder / filename).read_bytes().replace(stand_in.encode(), account.encode())
        )
    argv = ["import", str(path), "--format", "auto", "--account", account, "--json"]
    register = ["--ruleset", "personal", "--initial-balance", "10000"]
    code, first = run_json([*argv, *register], capsys)
    assert first["format"] == folder
    assert (first["new"], first["duplicates"], first["updated"]) == (trades + cash, 0, 0)
    errors = first["errors"]
    assert isinstance(errors, list) and len(errors) == reported
    assert code == (2 if reported else 0)
    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT count(*), coalesce(sum(pnl), 0) FROM trades WHERE account_id = %s",
            (account,),
        ).fetchone()
    assert stored is not None
    assert (stored[0], round(float(stored[1]), 2)) == (trades, pnl)
    # the balance the import built: the start (0 after a first deposit, else the initial
    # 10,000) moved by every trade's P&L and cash row
    start = 0.0 if cash_total > 0 else 10000.0
    # (two trades closed by one fill share its time: the last of them holds the total)
    with pool.connection() as conn:
        last = conn.execute(
            "SELECT balance FROM balance_ticks WHERE account_id = %s AND ts = "
            "(SELECT max(ts) FROM balance_ticks WHERE account_id = %s)",
            (account, account),
        ).fetchall()
    assert round(start + pnl + cash_total, 2) in {round(float(b[0]), 2) for b in last}

    code, second = run_json(argv, capsys)
    assert (second["new"], second["duplicates"], second["updated"]) == (0, trades + cash, 0)
