"""The importer over the real PostgreSQL for each statement format (the bus is the
in-process one here; tests/integration/kafka/test_import_command.py runs Kafka).

Each case states the trades, P&L and balances derived by hand from its sample file.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.generic_csv.formats import GenericCsv
from connectors.statements.importer import (
    ImportRequest,
    ImportResult,
    Registration,
    StatementImportError,
    import_statement,
)
from connectors.statements.timezones import resolve_timezone
from infra.bus import EventPublisher, Topics
from infra.bus.memory import InProcessBus
from infra.db.pool import Pool
from schemas import parse_event
from schemas.events import BalanceEvent, TradeEvent
from tests.unit.statements.samples import DATA

pytestmark = pytest.mark.integration
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SERVER = resolve_timezone("GMT+2/+3-US")


def run(pool: Pool, request: ImportRequest) -> tuple[ImportResult, list[object]]:
    bus = InProcessBus()
    topics = Topics(events="events", breaches="breaches", deadletter="dead", partitions=1)
    bus.create_topics(topics.all(), 1)
    result = import_statement(
        request, pool=pool, publisher=EventPublisher(bus.publisher(), topics), now=NOW
    )
    messages = bus.reader("events").read(100_000, 0.1)
    return result, [parse_event(m.value or b"", "test") for m in messages]


def file_request(
    account: str,
    path: Path,
    fmt: str,
    *,
    tz: str | None = None,
    registration: Registration | None = None,
) -> ImportRequest:
    """Import the file at ``path`` in format ``fmt`` into ``account``."""
    return ImportRequest(
        data=path.read_bytes(),
        filename=path.name,
        account_id=account,
        format_name=fmt,
        timezone=resolve_timezone(tz) if tz else None,
        registration=registration,
    )


def request(
    account: str, fmt: str, name: str, *, tz: str | None = None, register: float | None = None
) -> ImportRequest:
    """Import the sample file ``name`` of format ``fmt`` (registered on ftmo-2step when
    ``register`` gives the initial balance)."""
    registration = Registration("ftmo-2step", register) if register else None
    return file_request(account, DATA / fmt / name, fmt, tz=tz, registration=registration)


def balances(events: list[object]) -> list[float]:
    return [round(e.balance, 2) for e in events if isinstance(e, BalanceEvent)]


def stored_ticks(pool: Pool, account: str) -> list[float]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT balance FROM balance_ticks WHERE account_id = %s ORDER BY ts", (account,)
        ).fetchall()
    return [round(r[0], 2) for r in rows]


def test_mt4_statement(pool: Pool, account: str) -> None:
    req = request(account, "mt4-html", "statement-2150977.htm", tz="GMT+2/+3-US", register=1e4)
    result, events = run(pool, req)
    # new: 1001, 1002, 1005 closed, 1007 open, deposit 1000, withdrawal 1004 = 6;
    # 1006 (hour 25) is the one error.
    assert (result.new, result.updated, result.duplicates) == (6, 0, 0)
    assert [e.row for e in result.errors] == [26]
    # 0 + 10 000 = 10 000; +493 = 10 493; -204.70 = 10 288.30; -1 000 = 9 288.30;
    # +1 986 = 11 274.30, the statement's own closing balance.
    assert balances(events) == [10000.0, 10493.0, 10288.3, 9288.3, 11274.3]
    assert stored_ticks(pool, account) == [10000.0, 10493.0, 10288.3, 9288.3, 11274.3]
    assert result.status == "partial"
    again, republished = run(pool, req)
    assert (again.new, again.updated, again.duplicates) == (0, 0, 6)
    assert republished == []
    assert stored_ticks(pool, account) == [10000.0, 10493.0, 10288.3, 9288.3, 11274.3]


def test_mt5_xlsx(pool: Pool, account: str) -> None:
    req = request(account, "mt5-xlsx", "ReportHistory-51234567.xlsx", tz="GMT+2/+3-US")
    req = replace(req, registration=Registration("ftmo-2step", 50000))
    result, events = run(pool, req)
    assert (result.new, result.duplicates) == (6, 0)
    assert balances(events) == [50000.0, 50076.5, 49732.17, 47732.17, 48227.17]
    assert [e.row for e in result.errors] == [22]


def test_ctrader_statement(pool: Pool, account: str) -> None:
    result, events = run(pool, request(account, "ctrader-csv", "statement-3012345.csv",
                                       register=10000))  # fmt: skip
    # 5 closing deals (8103 closed in two parts = 2 trades) + 2 transactions = 7 new.
    assert (result.new, result.duplicates) == (7, 0)
    # 10 000; +244 = 10 244; -53 = 10 191; +148.50 = 10 339.50; -205.50 = 10 134;
    # -500 = 9 634; +1 531.11 = 11 165.11 (the Balance column of the file agrees).
    assert balances(events) == [10000.0, 10244.0, 10191.0, 10339.5, 10134.0, 9634.0, 11165.11]
    trade_ids = [e.broker_trade_id for e in events if isinstance(e, TradeEvent)]
    assert trade_ids == ["8101-9001", "8102-9002", "8103-9003", "8103-9004", "8104-9005"]
    again, _ = run(pool, request(account, "ctrader-csv", "statement-3012345.csv"))
    assert (again.new, again.duplicates, again.updated) == (0, 7, 0)


def test_generic_csv_with_mapping(pool: Pool, account: str) -> None:
    mapping = DATA / "generic-csv" / "journal-mapping.toml"
    req = request(account, "generic-csv", "journal-export.csv", register=25000)
    req = replace(req, statement_format=GenericCsv.from_file(mapping.read_text(), mapping.name))
    result, events = run(pool, req)
    assert (result.new, result.errors) == (3, [])
    # no deposit: from the initial 25 000: +1 334.50, +145.25, -201.40.
    assert balances(events) == [26334.5, 26479.75, 26278.35]


def test_registration_conflict_and_missing_timezone(pool: Pool, account: str) -> None:
    run(pool, request(account, "generic-csv", "trades.csv", register=50000))
    with pytest.raises(StatementImportError, match="registered already"):
        run(pool, request(account, "generic-csv", "trades.csv", register=60000))
    # MT5 without --timezone: a file-level error, nothing imported, status failed; with
    # --ruleset/--initial-balance for a new account, the account is not registered either.
    other = account + "-B"
    mt5 = request(other, "mt5-html", "ReportHistory-51234567.html", register=50000)
    result, events = run(pool, mt5)
    assert (result.new, result.status, events, result.registered) == (0, "failed", [], False)
    assert "--timezone" in result.errors[0].reason
    with pool.connection() as conn:
        found = conn.execute("SELECT 1 FROM accounts WHERE account_id = %s", (other,)).fetchone()
    assert found is None


def test_rows_failing_the_quality_suite_are_reported_by_row(
    pool: Pool, account: str, tmp_path: Path
) -> None:
    # Line 3 closes in 2027, after the run's clock (2026-06-01): the great-expectations
    # trade suite refuses times in the future; line 4's id is 129 characters, beyond the
    # contract's 128 (refused while reading). Lines 2 and 5 land: +100 and -40.
    long_id = "X" * 129
    path = tmp_path / "quality.csv"
    path.write_text(
        "broker_trade_id,symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl\n"
        "Q-1,ES,long,1,2026-03-02 14:30:00,5000,2026-03-02 15:00:00,5002,100\n"
        "Q-2,ES,long,1,2027-03-02 14:30:00,5000,2027-03-02 15:00:00,5002,100\n"
        f"{long_id},ES,long,1,2026-03-02 16:30:00,5000,2026-03-02 17:00:00,5002,100\n"
        "Q-4,ES,short,1,2026-03-03 14:30:00,5000,2026-03-03 15:00:00,5001,-40\n"
    )
    req = file_request(
        account, path, "generic-csv", registration=Registration("topstep-50k", 50000)
    )
    result, events = run(pool, req)
    assert result.new == 2
    assert sorted((e.row, e.where) for e in result.errors) == [(3, "quality"), (4, "row")]
    quality = next(e for e in result.errors if e.where == "quality")
    assert "future" in quality.reason
    assert balances(events) == [50100.0, 50060.0]
    with pool.connection() as conn:
        log = conn.execute(
            "SELECT status, errors_total FROM sync_logs WHERE id = %s", (result.sync_log_id,)
        ).fetchone()
        letters = conn.execute(
            "SELECT count(*) FROM dead_letters WHERE account_id = %s", (account,)
        ).fetchone()
    assert log == ("partial", 2)
    assert letters == (2,)


def test_a_row_repeated_in_the_file_is_a_duplicate_not_an_error(
    pool: Pool, account: str, tmp_path: Path
) -> None:
    # Exports that overlap (two periods pasted together) repeat rows: line 3 repeats
    # line 2 exactly (a duplicate); line 4 reuses the id with another P&L (an error).
    header = "broker_trade_id,symbol,side,quantity,entry_time,entry_price,exit_time,exit_price,pnl"
    trade = "R-1,ES,long,1,2026-03-02 14:30:00,5000,2026-03-02 15:00:00,5002,100"
    path = tmp_path / "repeats.csv"
    path.write_text(f"{header}\n{trade}\n{trade}\n{trade[:-3]}250\n")
    req = file_request(
        account, path, "generic-csv", registration=Registration("topstep-50k", 50000)
    )
    result, events = run(pool, req)
    assert (result.new, result.duplicates) == (1, 1)
    assert [(e.row, e.where) for e in result.errors] == [(4, "trade id")]
    assert balances(events) == [50100.0]


def test_mt4_open_trade_closed_in_the_next_statement_is_updated(pool: Pool, account: str) -> None:
    first = request(account, "mt4-html", "statement-2150977.htm", tz="GMT+2/+3-US", register=1e4)
    run(pool, first)
    # The next statement: ticket 1007 (open above) now sits in Closed Transactions,
    # closed 2026.03.13 10:00 at 1.09250: profit 25.00, commission -0.70 -> pnl 24.30.
    text = first.data.decode("iso-8859-1")
    open_row = next(line for line in text.splitlines() if "<td>1007</td>" in line)
    closed_row = (
        "<tr align=right><td>1007</td><td class=msdate nowrap>2026.03.12 09:00:00</td>"
        "<td>buy</td><td>0.10</td><td>eurusd</td><td>1.09000</td><td>0.00000</td>"
        "<td>0.00000</td><td>2026.03.13 10:00:00</td><td>1.09250</td><td>-0.70</td>"
        "<td>0.00</td><td>0.00</td><td>25.00</td></tr>"
    )
    marker = next(line for line in text.splitlines() if "Closed Trade P/L:" in line)
    later = text.replace(open_row + "\r\n", "").replace(marker, closed_row + "\r\n" + marker)
    result, events = run(pool, replace(first, data=later.encode("iso-8859-1")))
    # 1007 updated; 1001, 1002, 1005 and both cash rows duplicates; 1006 still an error.
    assert (result.new, result.updated, result.duplicates) == (0, 1, 5)
    # from the stored 11 274.30 (the last tick before 03-13): + 24.30 = 11 298.60
    assert balances(events) == [11298.6]
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT status, pnl, exit_price FROM trades "
            "WHERE account_id = %s AND broker_trade_id = '1007'",
            (account,),
        ).fetchone()
        log = conn.execute(
            "SELECT format, trades_updated, rows_total FROM sync_logs WHERE id = %s",
            (result.sync_log_id,),
        ).fetchone()
    assert row is not None
    assert (row[0], float(row[1]), float(row[2])) == ("closed", 24.3, 1.0925)
    assert log == ("mt4-html", 1, 9)
