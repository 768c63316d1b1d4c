"""The columnar import of the generic CSV (connectors/statements/frames.py) against the
per-row path (``import_statement(columnar=False)``), over the real PostgreSQL: the same
published events byte for byte, counts, errors with their rows, stored trades, balance
ticks and dead letters, on generated files (bad values, exact and conflicting repeats,
an open and a closed row of one trade, future times the quality suite refuses, rows
already stored as open or closed) and on a worked example."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.generic_csv.formats import GenericCsv
from connectors.generic_csv.wire import load_mapping
from connectors.statements.importer import ImportRequest, Registration, import_statement
from infra.bus import EventPublisher, Topics
from infra.bus.memory import InProcessBus
from infra.db.pool import Pool
from tests.unit.statements.test_generic_csv_fast import (
    GOOD_ROW,
    MAPPING_COMMA,
    MAPPING_DOT,
    ROW,
    _csv,
)

pytestmark = pytest.mark.integration
NOW = datetime(2026, 6, 1, tzinfo=UTC)
FUTURE = "06.01.2030 08:00:00"  # after NOW: the quality suite refuses the row


@dataclass
class Outcome:
    result: dict[str, Any]
    messages: list[tuple[bytes | None, bytes | None]]


def _import(
    pool: Pool, data: bytes, account: str, mapping: str, *, columnar: bool, register: bool
) -> Outcome:
    bus = InProcessBus()
    topics = Topics(events="events", breaches="breaches", deadletter="dead", partitions=1)
    bus.create_topics(topics.all(), 1)
    request = ImportRequest(
        data=data,
        filename="gen.csv",
        account_id=account,
        statement_format=GenericCsv(load_mapping(mapping)),
        registration=Registration("ftmo-2step", 50_000.0) if register else None,
    )
    result = import_statement(
        request,
        pool=pool,
        publisher=EventPublisher(bus.publisher(), topics),
        now=NOW,
        columnar=columnar,
    )
    messages = bus.reader("events").read(1_000_000, 0.05)
    return Outcome(
        {k: v for k, v in result.as_json().items() if k != "sync_log_id"},
        [(m.key, m.value) for m in messages],
    )


def _stored(pool: Pool, account: str) -> dict[str, list[tuple[Any, ...]]]:
    with pool.connection() as conn:
        trades = conn.execute(
            "SELECT broker_trade_id, status, symbol, side, quantity, entry_price, entry_time, "
            "exit_price, exit_time, pnl, commission, swap, stop_loss, take_profit, notes, "
            "source, tags, mfe, mae FROM trades WHERE account_id = %s ORDER BY broker_trade_id",
            (account,),
        ).fetchall()
        ticks = conn.execute(
            "SELECT ts, balance, equity FROM balance_ticks WHERE account_id = %s "
            "ORDER BY ts, balance",
            (account,),
        ).fetchall()
        letters = conn.execute(
            "SELECT source, raw_payload, reason FROM dead_letters WHERE account_id = %s "
            "ORDER BY id",
            (account,),
        ).fetchall()
    return {"trades": trades, "ticks": ticks, "dead_letters": letters}


def _normalised(value: Any, account: str) -> Any:
    if isinstance(value, bytes):
        return value.replace(account.encode(), b"<account>")
    if isinstance(value, str):
        return value.replace(account, "<account>")
    if isinstance(value, dict):
        return {k: _normalised(v, account) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalised(v, account) for v in value]
    return value


def _both(pool: Pool, files: Sequence[bytes], mapping: str) -> list[dict[str, Any]]:
    """Each file imported in turn into one account per path; what each import gave and
    what was stored after it, the account id written as ``<account>``."""
    seen: dict[bool, list[Any]] = {}
    for columnar in (False, True):
        account = f"{'col' if columnar else 'row'}-{uuid4().hex[:10]}"
        steps: list[Any] = []
        for n, data in enumerate(files):
            outcome = _import(pool, data, account, mapping, columnar=columnar, register=n == 0)
            step = {
                "result": outcome.result,
                "messages": outcome.messages,
                "stored": _stored(pool, account),
            }
            steps.append(_normalised(step, account))
        seen[columnar] = steps
    assert seen[True] == seen[False]
    return list(seen[True])


def _rows_with_repeats(
    draw: st.DrawFn, rows: st.SearchStrategy[tuple[str, ...]], max_size: int
) -> list[tuple[str, ...]]:
    drawn = draw(st.lists(rows, min_size=1, max_size=max_size))
    again = draw(st.lists(st.sampled_from(drawn), max_size=3))  # exact repeats
    future = draw(st.lists(st.sampled_from(drawn), max_size=2))
    moved = [(*r[:4], FUTURE, *r[5:]) for r in future]  # entry in the future
    return draw(st.permutations(drawn + again + moved))


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, bytes]:
    first = _rows_with_repeats(draw, GOOD_ROW, 8)
    second = _rows_with_repeats(draw, st.one_of(GOOD_ROW, ROW), 20)
    return _csv(first), _csv(second)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=files(), decimal_comma=st.booleans())
def test_the_columnar_path_gives_what_the_per_row_path_gives(
    pool: Pool, data: tuple[bytes, bytes], decimal_comma: bool
) -> None:
    first, second = data
    # The second file meets what the first stored (duplicates, open trades closed now),
    # and is then imported again (everything a duplicate or an error).
    _both(pool, [first, second, second], MAPPING_COMMA if decimal_comma else MAPPING_DOT)


WORKED = [
    # id, symbol, side, qty, opened, open px, closed, close px, profit, fee, swap, sl, tp,
    # state, memo
    ("A", "ES", "buy", "1", "06.01.2025 10:00:00", "5000", "06.01.2025 10:30:00", "5010",
     "50", "-4", "0", "", "", "", 'says "hi"'),
    ("B", "NQ", "sell", "2", "06.01.2025 11:00:00", "20000", "", "", "", "", "", "", "", "",
     ""),
    ("B", "NQ", "sell", "2", "06.01.2025 11:00:00", "20000", "06.01.2025 11:15:00",
     "19990", "40", "0", "0", "", "", "", ""),
    ("A", "ES", "buy", "1", "06.01.2025 10:00:00", "5000", "06.01.2025 10:30:00", "5010",
     "50", "-4", "0", "", "", "", 'says "hi"'),
    ("A", "ES", "buy", "1", "06.01.2025 10:00:00", "5000", "06.01.2025 10:30:00", "5011",
     "55", "-4", "0", "", "", "", ""),
    ("C", "ES", "buy", "1", FUTURE, "5000", "", "", "", "", "", "", "", "", ""),
    ("D", "ES", "buy", "x", "06.01.2025 12:00:00", "5000", "", "", "", "", "", "", "", "",
     ""),
]  # fmt: skip


def test_worked_example(pool: Pool) -> None:
    """A closed trade (its exact repeat a duplicate, a repeat with another price an error),
    B's open and closed rows (the closed one decides: B's open row is a duplicate), C in
    the future (quality), D with a bad quantity; then the same file again."""
    first, again = _both(pool, [_csv(WORKED), _csv(WORKED)], MAPPING_DOT)
    result = first["result"]
    assert (result["new"], result["duplicates"], result["updated"]) == (2, 2, 0)
    assert [(e["row"], e["where"]) for e in result["errors"]] == [
        (8, "qty"),
        (6, "trade id"),
        (7, "quality"),
    ]
    assert "first at row 2" in result["errors"][1]["reason"]
    # 50 000 + 50 (A, at 10:30) + 40 (B, at 11:15); the account event first.
    values = [v for _, v in first["messages"]]
    assert values[0] is not None and values[0].startswith(b'{"type":"account"')
    assert values[1] == (
        b'{"type":"trade","account_id":"<account>","broker_trade_id":"A","status":"closed",'
        b'"symbol":"ES","side":"long","quantity":1.0,"entry_price":5000.0,'
        b'"entry_time":"2025-01-06T08:00:00Z","exit_price":5010.0,'
        b'"exit_time":"2025-01-06T08:30:00Z","pnl":50.0,"commission":-4.0,"swap":0.0,'
        b'"tags":[],"notes":"says \\"hi\\""}'
    )
    assert values[2] == (
        b'{"type":"balance","account_id":"<account>","ts":"2025-01-06T08:30:00Z",'
        b'"balance":50050.0,"equity":50050.0}'
    )
    assert [row[1] for row in first["stored"]["ticks"]] == [50050.0, 50090.0]
    assert len(first["stored"]["dead_letters"]) == 3
    result = again["result"]
    assert (result["new"], result["duplicates"], result["updated"]) == (0, 4, 0)
    assert again["messages"] == []


def test_a_trade_closed_under_another_entry_time_is_then_a_duplicate(pool: Pool) -> None:
    """E is stored open (entry 6 March); a later statement closes it with the entry time
    it reports now (6 January, two months earlier). On TimescaleDB the trade's unique key
    holds its entry time, so E is then stored twice (open and closed); on PostgreSQL once.
    Either way the same statement imported again is all duplicates and publishes nothing:
    a stored closed row decides, on both paths."""
    opened = [("E", "ES", "buy", "1", "06.03.2025 10:00:00", "5000", "", "", "", "", "", "",
               "", "", "")]  # fmt: skip
    closed = [("E", "ES", "buy", "1", "06.01.2025 10:00:00", "5000", "06.03.2025 10:30:00",
               "5010", "50", "0", "0", "", "", "", "")]  # fmt: skip
    steps = _both(pool, [_csv(opened), _csv(closed), _csv(closed)], MAPPING_DOT)
    assert steps[0]["result"]["new"] == 1
    assert "closed" in [row[1] for row in steps[1]["stored"]["trades"] if row[0] == "E"]
    again = steps[2]["result"]
    assert (again["new"], again["duplicates"], again["updated"], again["errors"]) == (0, 1, 0, [])
    assert steps[2]["messages"] == []
