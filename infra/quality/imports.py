"""Importing a batch of trades or balance ticks (CSV statements, broker syncs) with the
data-quality suite in front: rows that fail go to ``dead_letters`` with the reason,
the rest is stored, and the run is written to ``sync_logs``.

Rows may be contract events or mappings with the contract's field names (a connector's
rows before model validation). A row that passes the suite but not the event model
is dead-lettered too, with the model's reason. Exact repeats within the batch are
counted as duplicates, as the contract asks, not rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from infra.db.pool import Pool
from infra.db.repositories import SyncLog, record_sync_log
from infra.db.retry import RetryPolicy, run_with_retry
from infra.db.sinks import DeadLetter, PostgresSink, TradeCounts
from infra.quality.validate import QualityResult, validate_ticks, validate_trades
from schemas.events import BalanceEvent, TradeEvent
from schemas.parsing import EventError, parse_event_object

# Reasons kept in a sync log row (all of them are in dead_letters).
MAX_LOGGED_ERRORS = 100

Row = TradeEvent | BalanceEvent | Mapping[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A row that was not stored: its position in the batch and why."""

    row: int
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did with its rows."""

    source: str
    rows: int
    accepted: int = 0
    trades: TradeCounts = field(default_factory=TradeCounts)
    ticks_stored: int = 0
    repeated_in_batch: int = 0
    rejected: tuple[Rejected, ...] = ()
    quality: QualityResult | None = None
    sync_log_id: int | None = None

    @property
    def status(self) -> str:
        """``success``, ``partial`` (some rows rejected) or ``failed`` (all rejected)."""
        if not self.rejected:
            return "success"
        return "partial" if self.accepted else "failed"


def _as_mapping(row: Row) -> dict[str, Any]:
    if isinstance(row, TradeEvent | BalanceEvent):
        return row.model_dump(exclude={"type"})
    return dict(row)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _raw(record: Mapping[str, Any]) -> str:
    return json.dumps(record, default=_json_default, sort_keys=True)


def _unique(records: list[dict[str, Any]]) -> tuple[list[int], int]:
    """Positions of the first occurrence of each distinct row, and how many repeats."""
    seen: set[str] = set()
    keep: list[int] = []
    for position, record in enumerate(records):
        key = _raw(record)
        if key not in seen:
            seen.add(key)
            keep.append(position)
    return keep, len(records) - len(keep)


def _to_event(record: Mapping[str, Any], kind: str, where: str) -> TradeEvent | BalanceEvent:
    payload = {key: value for key, value in record.items() if value is not None}
    payload["type"] = kind
    event = parse_event_object(json.loads(_raw(payload)), where)
    if not isinstance(event, TradeEvent | BalanceEvent):
        raise EventError(where, f"expected a {kind} event")
    return event


@dataclass(frozen=True)
class _Screened:
    events: list[TradeEvent | BalanceEvent]
    rejected: list[Rejected]
    letters: list[DeadLetter]
    repeats: int
    quality: QualityResult


def _screen(
    rows: Sequence[Row],
    kind: str,
    source: str,
    validate: Callable[[list[dict[str, Any]]], QualityResult],
) -> _Screened:
    records = [_as_mapping(row) for row in rows]
    keep, repeats = _unique(records)
    quality = validate([records[position] for position in keep])
    broken = [o for o in quality.outcomes if o.error is not None]
    screened = _Screened([], [], [], repeats, quality)
    for index, position in enumerate(keep):
        record = records[position]
        reasons = list(quality.row_failures.get(index, ()))
        reasons += [f"{o.reason} (the check could not run: {o.error})" for o in broken]
        if not reasons:
            original = rows[position]
            if isinstance(original, TradeEvent | BalanceEvent):
                screened.events.append(original)
                continue
            try:
                screened.events.append(_to_event(record, kind, f"{source} row {position}"))
                continue
            except EventError as exc:
                reasons.append(exc.reason)
        reason = "; ".join(reasons)
        screened.rejected.append(Rejected(position, reason))
        account = record.get("account_id")
        screened.letters.append(
            DeadLetter(
                source=f"import:{source}",
                raw_payload=_raw(record),
                reason=f"row {position}: {reason}",
                account_id=account if isinstance(account, str) else None,
            )
        )
    return screened


def _log(
    pool: Pool,
    report: ImportReport,
    *,
    started_at: datetime,
    account_id: str | None,
    retry: RetryPolicy,
    trades: bool,
) -> int:
    """Write the run's sync log; a tick import's rejected rows are in ``errors`` only."""
    log = SyncLog(
        source=report.source,
        status=report.status,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        account_id=account_id,
        trades_new=report.trades.new,
        trades_updated=report.trades.updated,
        trades_duplicate=report.trades.duplicate + report.repeated_in_batch if trades else 0,
        trades_error=len(report.rejected) if trades else 0,
        ticks_stored=report.ticks_stored,
        errors=[{"row": r.row, "reason": r.reason} for r in report.rejected[:MAX_LOGGED_ERRORS]],
    )
    return run_with_retry(
        pool, lambda conn: record_sync_log(conn, log), policy=retry, what="sync log"
    )


def import_trades(
    pool: Pool,
    rows: Sequence[Row],
    *,
    source: str,
    account_id: str | None = None,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
) -> ImportReport:
    """Validate a batch of trades, dead-letter the failures, upsert the rest, log the run.

    ``source`` names the import (``csv:statement-2026-03.csv``, ``rest:ftmo``); ``now``
    is the clock for the "not in the future" checks (default: the wall clock).
    """
    return _import(
        pool, rows, kind="trade", source=source, account_id=account_id, now=now, retry=retry
    )


def import_ticks(
    pool: Pool,
    rows: Sequence[Row],
    *,
    source: str,
    account_id: str | None = None,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
) -> ImportReport:
    """Validate a batch of balance ticks, dead-letter the failures, COPY the rest."""
    return _import(
        pool, rows, kind="balance", source=source, account_id=account_id, now=now, retry=retry
    )


def _import(
    pool: Pool,
    rows: Sequence[Row],
    *,
    kind: Literal["trade", "balance"],
    source: str,
    account_id: str | None,
    now: datetime | None,
    retry: RetryPolicy | None,
) -> ImportReport:
    """Screen the rows with the kind's suite, store what passes, dead-letter the rest, log."""
    started_at = now or datetime.now(UTC)
    policy = retry or RetryPolicy()
    suite = validate_trades if kind == "trade" else validate_ticks
    screened = _screen(rows, kind, source, lambda records: suite(records, now=started_at))
    sink = PostgresSink(pool, source=source, retry=policy)
    written = sink.write(screened.events, dead_letters=screened.letters)
    report = ImportReport(
        source=source,
        rows=len(rows),
        accepted=len(screened.events),
        trades=written.trades,
        ticks_stored=written.ticks,
        repeated_in_batch=screened.repeats,
        rejected=tuple(screened.rejected),
        quality=screened.quality,
    )
    log_id = _log(
        pool,
        report,
        started_at=started_at,
        account_id=account_id,
        retry=policy,
        trades=kind == "trade",
    )
    return replace(report, sync_log_id=log_id)
