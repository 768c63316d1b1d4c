"""``aetheris db check``: the data-quality suites over what is stored, with a report.

Rows are streamed from a server-side cursor in chunks (millions of ticks never sit in
memory at once) and each chunk is validated; counts add up over chunks and a few
failing rows per check are kept as examples. Trades are read in key order and a
chunk never splits a key, so duplicates are always seen together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from infra.quality.suites import TICK_COLUMNS, TRADE_COLUMNS
from infra.quality.validate import (
    STORED_TRADE_KEY,
    CheckOutcome,
    QualityResult,
    validate_ticks,
    validate_trades,
)

Connection = psycopg.Connection[TupleRow]
EXAMPLES = 5


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class TableReport:
    """The suite's outcome over one table."""

    table: str
    rows: int
    outcomes: tuple[CheckOutcome, ...]

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.outcomes)


@dataclass(frozen=True)
class StoredDataReport:
    """The outcome of ``aetheris db check``."""

    checked_at: datetime
    since: datetime | None
    tables: tuple[TableReport, ...]

    @property
    def success(self) -> bool:
        return all(table.success for table in self.tables)

    def to_json(self) -> str:
        document = asdict(self)
        document["success"] = self.success
        for table, report in zip(document["tables"], self.tables, strict=True):
            table["success"] = report.success
        return json.dumps(document, default=_json_value, indent=2)

    def to_text(self) -> str:
        lines = [f"AETHERIS data check at {self.checked_at.isoformat()}"]
        if self.since is not None:
            lines[0] += f" (rows since {self.since.isoformat()})"
        for table in self.tables:
            failed = [o for o in table.outcomes if not o.success]
            verdict = (
                f"all {len(table.outcomes)} checks passed"
                if not failed
                else f"{len(failed)} of {len(table.outcomes)} checks failed"
            )
            lines.append(f"{table.table}: {table.rows:,} rows; {verdict}")
            for outcome in table.outcomes:
                if outcome.success:
                    continue
                count = outcome.unexpected_count
                what = outcome.error or f"{count:,} row{'' if count == 1 else 's'}"
                lines.append(f"  FAIL {outcome.key}: {outcome.reason} ({what})")
                lines.extend(f"       e.g. {example}" for example in outcome.examples)
        lines.append("RESULT: " + ("OK" if self.success else "FAILED"))
        return "\n".join(lines)


def _merge(table: str, results: Sequence[QualityResult]) -> TableReport:
    rows = sum(result.rows for result in results)
    by_key: dict[str, list[CheckOutcome]] = {}
    for result in results:
        for outcome in result.outcomes:
            by_key.setdefault(outcome.key, []).append(outcome)
    merged: list[CheckOutcome] = []
    for key, parts in by_key.items():
        examples = [example for part in parts for example in part.examples][:EXAMPLES]
        errors = [part.error for part in parts if part.error is not None]
        merged.append(
            CheckOutcome(
                key=key,
                reason=parts[0].reason,
                success=all(part.success for part in parts),
                unexpected_count=sum(part.unexpected_count for part in parts),
                examples=tuple(examples),
                error=errors[0] if errors else None,
            )
        )
    return TableReport(table=table, rows=rows, outcomes=tuple(merged))


def _chunks(
    conn: Connection,
    query: str,
    params: Sequence[Any],
    columns: Sequence[str],
    *,
    chunk_rows: int,
    key_width: int = 0,
) -> Iterator[list[dict[str, Any]]]:
    """Rows as dicts in chunks of about ``chunk_rows``; with ``key_width`` > 0, a chunk
    ends only where the first ``key_width`` columns change."""
    # A server-side cursor lives in the connection's (implicit) transaction.
    with conn.cursor(name="aetheris_check") as cur:
        cur.itersize = min(chunk_rows, 50_000)
        cur.execute(query.encode("utf-8"), params)
        chunk: list[dict[str, Any]] = []
        for row in cur:
            record = dict(zip(columns, row, strict=True))
            if len(chunk) >= chunk_rows and (
                key_width == 0 or any(record[c] != chunk[-1][c] for c in columns[:key_width])
            ):
                yield chunk
                chunk = []
            chunk.append(record)
        if chunk:
            yield chunk


def check_stored_data(
    conn: Connection,
    *,
    now: datetime,
    since: datetime | None = None,
    chunk_rows: int = 250_000,
) -> StoredDataReport:
    """Run the trade and tick suites over stored rows (those at or after ``since``)."""
    trade_results = [
        validate_trades(chunk, now=now, unique_key=STORED_TRADE_KEY, per_row=False)
        for chunk in _chunks(
            conn,
            f"SELECT {', '.join(TRADE_COLUMNS)} FROM trades "  # noqa: S608 -- fixed names
            "WHERE %s::timestamptz IS NULL OR entry_time >= %s::timestamptz "
            "ORDER BY account_id, broker_trade_id",
            (since, since),
            TRADE_COLUMNS,
            chunk_rows=chunk_rows,
            key_width=2,
        )
    ]
    tick_results = [
        validate_ticks(chunk, now=now, per_row=False)
        for chunk in _chunks(
            conn,
            f"SELECT {', '.join(TICK_COLUMNS)} FROM balance_ticks "  # noqa: S608 -- fixed names
            "WHERE %s::timestamptz IS NULL OR ts >= %s::timestamptz",
            (since, since),
            TICK_COLUMNS,
            chunk_rows=chunk_rows,
        )
    ]
    # An empty table still lists its checks (all passed).
    trade_results = trade_results or [validate_trades([], now=now, unique_key=STORED_TRADE_KEY)]
    tick_results = tick_results or [validate_ticks([], now=now)]
    return StoredDataReport(
        checked_at=now,
        since=since,
        tables=(_merge("trades", trade_results), _merge("balance_ticks", tick_results)),
    )
