"""``aetheris import``: a broker statement into the bus and the database.

parse (the format) → dedup against stored trades and cash movements → validate the
new and updated rows (the great-expectations trade and tick suites; failing rows
reported by file row) → publish in event-time order (the account event when
registering, trades, balance events) and, at the same time, store in one transaction
(trades, ticks, cash keys, dead letters) that commits only once the publish has
succeeded (a failed publish stores nothing) → sync log.

Bad rows are reported and skipped, good rows land; re-running a file adds nothing and
reports every row as a duplicate (connectors/statements/plan.py has the rules).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple, TypeVar
from uuid import uuid4

import polars as pl

from connectors.statements import frames
from connectors.statements.model import ParseContext, RowError, StatementFormat
from connectors.statements.plan import Plan, TradeRow, cash_key, plan, split_repeats
from connectors.statements.registry import FormatError, detect, get_format
from infra.bus import EventPublisher
from infra.bus.events import event_bytes
from infra.db.pool import Pool
from infra.db.sinks import DeadLetter
from infra.db.statements import (
    CashRow,
    ImportRows,
    StoredImport,
    account_balance,
    balance_before,
    store_import,
    stored_cash_keys,
    stored_trade_status,
    stored_trade_status_frame,
)
from infra.db.synclog import SyncLogRecord, SyncLogStore, SyncRun
from infra.quality.validate import (
    validate_tick_frame,
    validate_ticks,
    validate_trade_frame,
    validate_trades,
)
from infra.rulesets import RulesetCatalog
from schemas.events import AccountEvent, BalanceEvent, TradeEvent
from schemas.rulesets import RulesetError

_log = logging.getLogger("aetheris.import")


class StatementImportError(RuntimeError):
    """The import could not run at all (unknown account, unreadable format, …); the
    sync log row records the reason."""

    def __init__(self, reason: str, sync_log_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sync_log_id = sync_log_id


@dataclass(frozen=True, slots=True)
class Registration:
    """``--ruleset`` / ``--initial-balance``: register the account if it is new."""

    ruleset: str
    initial_balance: float
    currency: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """One file to import into one account."""

    data: bytes
    filename: str
    account_id: str
    format_name: str = "auto"
    timezone: tzinfo | None = None
    registration: Registration | None = None
    statement_format: StatementFormat | None = None  # e.g. a generic CSV with a mapping


@dataclass(slots=True)
class ImportResult:
    """The sync log of one run, as ``--json`` prints it."""

    sync_log_id: int
    status: str
    format: str
    account_id: str
    rows: int
    new: int
    duplicates: int
    updated: int
    errors: list[RowError]
    trades: dict[str, int] = field(default_factory=dict)
    cash: dict[str, int] = field(default_factory=dict)
    balance_events: int = 0
    registered: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "errors": [
                {"row": e.row, "where": e.where, "reason": e.reason, "raw": e.raw}
                for e in self.errors
            ],
            "sync_log_id": self.sync_log_id,
            "status": self.status,
            "format": self.format,
            "account_id": self.account_id,
            "rows": self.rows,
            "trades": self.trades,
            "cash": self.cash,
            "balance_events": self.balance_events,
            "registered": self.registered,
        }


class _Stages:
    """Adds the wall seconds since the last lap to a stage's total, and this process's
    CPU seconds under ``cpu:<stage>`` (when asked to; CPU time stays meaningful on a
    loaded machine)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self._into = into
        self._last = time.perf_counter()
        self._last_cpu = time.process_time()

    def lap(self, stage: str) -> None:
        if self._into is None:
            return
        now, cpu = time.perf_counter(), time.process_time()
        self._into[stage] = self._into.get(stage, 0.0) + now - self._last
        key = f"cpu:{stage}"
        self._into[key] = self._into.get(key, 0.0) + cpu - self._last_cpu
        self._last, self._last_cpu = now, cpu


class _Abandoned(Exception):
    """Raised inside the store's transaction when the import stopped: rolls it back."""


_UNDECIDED = "the import published without deciding what to store"
T = TypeVar("T")


def _store_alongside(
    pool: Pool,
    *,
    account_id: str,
    source: str,
    account: AccountEvent | None,
    rows: ImportRows,
    guessed: bool,
    work: Callable[[Callable[[ImportRows], None]], T],
) -> tuple[StoredImport, T]:
    """Store the import (:func:`store_import`) in a worker thread while ``work`` runs
    here, so that the database's work overlaps the importer's own (validating,
    publishing); returns what was stored and what ``work`` returned.

    ``work`` decides the rows to store and hands them over through the callable it is
    given, then publishes. ``rows`` are those rows already (``guessed`` False) or a guess
    the store writes meanwhile (``guessed`` True: kept if the handed-over rows are the
    same, else replaced). The store's transaction commits only once ``work`` has
    returned, so the import commits only after its events are published; if ``work``
    raises, the store rolls back (nothing stored, as when the stages ran one after the
    other) and ``work``'s error is raised here. A store that has failed by the time the
    rows are handed over is raised from the hand-over, so nothing is published; one that
    fails later is raised once ``work`` has finished (its events are out then, as a
    store failing after the publish always left them; importing the file again stores
    them). A pool of one connection stores after ``work`` instead."""

    def store(
        what: ImportRows,
        settle: Callable[[], ImportRows] | None = None,
        gate: Callable[[], None] | None = None,
    ) -> StoredImport:
        return store_import(
            pool,
            batch_id=uuid4(),
            account_id=account_id,
            source=source,
            account=account,
            rows=what,
            settle=settle,
            before_commit=gate,
        )

    if pool.max_size < 2:
        # The store would hold the pool's one connection while the importer may still
        # need it (a guess that failed needs the stored balance again): one after the
        # other then, as before.
        handed: list[ImportRows] = []
        result = work(handed.append)
        if not handed:
            raise RuntimeError(_UNDECIDED)
        return store(handed[0]), result
    decided: Future[ImportRows] = Future()
    released = threading.Event()
    abandoned = False

    def gate() -> None:
        released.wait()
        if abandoned:
            raise _Abandoned

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-store") as worker:
        stored = worker.submit(store, rows, decided.result if guessed else None, gate)

        def hand_over(decision: ImportRows) -> None:
            decided.set_result(decision)
            if stored.done():
                stored.result()  # the store failed already: raise it, publish nothing

        try:
            result = work(hand_over)
            if not decided.done():
                raise RuntimeError(_UNDECIDED)
        except BaseException as failure:
            abandoned = True
            if not decided.done():
                decided.set_exception(_Abandoned())
            released.set()
            try:
                stored.result()
            except _Abandoned:
                pass
            except Exception as exc:  # the import's own error is the one to report
                if exc is not failure:
                    _log.warning("import store, rolled back after the import failed: %s", exc)
            raise
        released.set()
        return stored.result(), result


def _choose_format(request: ImportRequest) -> StatementFormat:
    if request.statement_format is not None:
        return request.statement_format
    name = request.format_name
    if name == "auto":
        name = detect(request.data, request.filename)
    return get_format(name)


def _account(
    pool: Pool, request: ImportRequest, parsed_currency: str | None
) -> AccountEvent | None:
    """The account event to publish (None: the account is registered already)."""
    with pool.connection() as conn:
        stored = account_balance(conn, request.account_id)
    reg = request.registration
    if stored is not None:
        if reg is not None and abs(stored[0] - reg.initial_balance) > 1e-9:
            raise StatementImportError(
                f"account {request.account_id!r} is registered already with initial balance "
                f"{stored[0]:g}; leave out --ruleset/--initial-balance to import into it"
            )
        return None
    if reg is None:
        raise StatementImportError(
            f"account {request.account_id!r} is not registered: give --ruleset and "
            "--initial-balance to register it with this import"
        )
    try:
        RulesetCatalog().resolve(reg.ruleset)
    except (RulesetError, OSError, ValueError) as exc:
        raise StatementImportError(f"--ruleset {reg.ruleset!r}: {exc}") from None
    return AccountEvent(
        account_id=request.account_id,
        ruleset=reg.ruleset,
        initial_balance=reg.initial_balance,
        currency=(reg.currency or parsed_currency or "USD").upper(),
        name=reg.name,
    )


def _quality(rows: list[TradeRow], now: datetime) -> tuple[list[TradeRow], list[RowError]]:
    """The trades that pass the trade suite, and an error per failing row (the rows are
    without in-file repeats: the suite's unique-key check would refuse both copies)."""
    # The models' own field dicts: no copy (the frame reads the contract's fields).
    records = [r.trade.__dict__ for r in rows]
    result = validate_trades(records, now=now)
    broken = [o for o in result.outcomes if o.error is not None]
    good: list[TradeRow] = []
    errors: list[RowError] = []
    for index, item in enumerate(rows):
        trade, row = item.trade, item.row
        reasons = list(result.row_failures.get(index, ()))
        reasons += [f"{o.reason} (the check could not run: {o.error})" for o in broken]
        if reasons:
            errors.append(RowError(row, "quality", "; ".join(reasons), trade.broker_trade_id))
        else:
            good.append(TradeRow(trade, row))
    return good, errors


def _unchanged(trade: TradeEvent, statuses: dict[str, str]) -> bool:
    stored = statuses.get(trade.broker_trade_id)
    return stored == "closed" or (stored == "open" and trade.status == "open")


def _check_ticks(ticks: list[BalanceEvent], now: datetime) -> list[RowError]:
    if not ticks:
        return []
    result = validate_ticks([t.__dict__ for t in ticks], now=now)
    return [
        RowError(None, "balance", f"balance at {ticks[i].ts.isoformat()}: {'; '.join(r)}")
        for i, r in result.row_failures.items()
    ]


def _dead_letters(errors: list[RowError], source: str, account_id: str) -> list[DeadLetter]:
    return [
        DeadLetter(
            source=f"import:{source}",
            raw_payload=e.raw or e.where,
            reason=e.message(),
            account_id=account_id,
        )
        for e in errors
        if e.row is not None
    ]


def import_statement(
    request: ImportRequest,
    *,
    pool: Pool,
    publisher: EventPublisher,
    now: datetime,
    sync_logs: SyncLogStore | None = None,
    stages: dict[str, float] | None = None,
    columnar: bool = True,
) -> ImportResult:
    """Run one import (module doc); :class:`StatementImportError` when it cannot run.

    ``stages`` (optional) receives the seconds each stage took (for the benchmark).
    ``columnar``: a format that can give its trades as one frame (the generic CSV) is
    imported on the columnar path (:mod:`connectors.statements.frames`); False runs the
    per-row path for every format (the reference the columnar one is tested against).
    """
    logs = sync_logs or SyncLogStore(pool)
    source = f"import:{request.filename}"
    run = logs.start(source, account_id=request.account_id, started_at=now)
    try:
        fmt = _choose_format(request)
        if (
            columnar
            and isinstance(fmt, frames.ColumnarFormat)
            and _account_id_ok(request.account_id)
        ):
            return _run_columnar(
                request, fmt, run, logs, pool=pool, publisher=publisher, now=now, stages=stages
            )
        return _run(request, run, logs, pool=pool, publisher=publisher, now=now, stages=stages)
    except StatementImportError as exc:
        logs.fail(run, exc.reason)
        exc.sync_log_id = run.id
        raise
    except FormatError as exc:
        logs.fail(run, str(exc))
        raise StatementImportError(str(exc), run.id) from None
    except Exception as exc:
        logs.fail(run, f"{type(exc).__name__}: {exc}")
        raise


def _run(
    request: ImportRequest,
    run: SyncRun,
    logs: SyncLogStore,
    *,
    pool: Pool,
    publisher: EventPublisher,
    now: datetime,
    stages: dict[str, float] | None,
) -> ImportResult:
    clock = _Stages(stages)
    fmt = _choose_format(request)  # again: the clock starts here on both paths
    ctx = ParseContext(request.account_id, request.timezone, request.filename)
    parsed = fmt.parse(request.data, ctx)
    clock.lap("parse")
    account = _account(pool, request, parsed.meta.currency)
    if account is not None and any(e.row is None for e in parsed.errors):
        account = None  # the file could not be read as a whole: register nothing either
    run.rows_total = parsed.rows_seen
    run.format = fmt.name
    run.details.update(
        {
            "format": fmt.name,
            "file": request.filename,
            "broker_account": parsed.meta.account_number,
            "currency": parsed.meta.currency,
            "skipped": parsed.skipped,
        }
    )
    logs.progress(run)  # rows_total known: a watcher sees "0 of N" while it runs
    rows = [
        TradeRow(trade, parsed.trade_rows[i] if i < len(parsed.trade_rows) else None)
        for i, trade in enumerate(parsed.trades)
    ]
    unique, repeats, repeat_errors = split_repeats(rows)
    ids = [r.trade.broker_trade_id for r in unique]
    keys = [cash_key(c) for c in parsed.cash]
    with pool.connection() as conn:
        statuses = stored_trade_status(conn, request.account_id, ids)
        cash_stored = stored_cash_keys(conn, request.account_id, keys)
        initial = account_balance(conn, request.account_id)
    clock.lap("dedup")
    # Rows already stored as they are (a stored closed trade, or a stored open trade
    # still open) change nothing and skip the suite, so a re-import is quick; the rest
    # must pass it.
    stored_as_is = [r for r in unique if _unchanged(r.trade, statuses)]
    candidates = [r for r in unique if not _unchanged(r.trade, statuses)]
    good, quality_errors = _quality(candidates, now)
    good += stored_as_is
    clock.lap("validate")

    def stored_balance(ts: datetime) -> float | None:
        with pool.connection() as conn:
            return balance_before(conn, request.account_id, ts)

    decided: Plan = plan(
        good,
        parsed.cash,
        account_id=request.account_id,
        stored_status=statuses,
        stored_cash=cash_stored,
        balance_before=stored_balance,
        initial_balance=(account.initial_balance if account else (initial[0] if initial else None)),
    )
    # exact repeats of a row that passed the suite are duplicates (its first copy decides)
    good_ids = {(r.trade.broker_trade_id, r.trade.status) for r in good}
    decided.trades["duplicate"].extend(
        r for r in repeats if (r.trade.broker_trade_id, r.trade.status) in good_ids
    )
    clock.lap("dedup")
    errors = parsed.errors + repeat_errors + quality_errors + decided.errors
    errors += _check_ticks(decided.balances, now)
    clock.lap("validate")
    events: list[AccountEvent | TradeEvent | BalanceEvent] = [account] if account else []
    events.extend(decided.events)

    to_store = ImportRows(
        new_trades=[r.trade for r in decided.trades["new"]],
        updated_trades=[r.trade for r in decided.trades["updated"]],
        ticks=decided.balances,
        cash=[CashRow(cash_key(c), c.ts, c.amount, c.kind, c.comment) for c in decided.cash_new],
        dead_letters=_dead_letters(errors, fmt.name, request.account_id),
    )

    def publish(hand_over: Callable[[ImportRows], None]) -> None:
        hand_over(to_store)
        publisher.publish_events(events)
        publisher.flush()
        clock.lap("publish")

    stored, _ = _store_alongside(
        pool,
        account_id=request.account_id,
        source=f"import:{fmt.name}",
        account=account,
        rows=to_store,
        guessed=False,
        work=publish,
    )
    clock.lap("store")
    trade_counts = {
        "new": stored.trades.new,
        "updated": stored.trades.updated,
        "duplicates": len(decided.trades["duplicate"]) + stored.trades.duplicate,
    }
    cash_counts = {"new": len(decided.cash_new), "duplicates": len(decided.cash_duplicate)}
    run.count(
        new=trade_counts["new"],
        updated=trade_counts["updated"],
        duplicate=trade_counts["duplicates"],
        ticks=stored.ticks,
        balance_events=len(decided.balances),
        rows_done=parsed.rows_seen,
    )
    for error in errors:
        run.error(row=error.row, where=error.where, reason=error.reason, raw=error.raw)
    run.details.update(
        {"cash_new": cash_counts["new"], "cash_duplicates": cash_counts["duplicates"]}
    )
    record: SyncLogRecord = logs.finish(run)
    clock.lap("sync log")
    _log.info(
        "import %s into %s: %d new, %d updated, %d duplicates, %d errors",
        request.filename,
        request.account_id,
        trade_counts["new"] + cash_counts["new"],
        trade_counts["updated"],
        trade_counts["duplicates"] + cash_counts["duplicates"],
        len(errors),
    )
    return ImportResult(
        sync_log_id=record.id,
        status=record.status,
        format=fmt.name,
        account_id=request.account_id,
        rows=parsed.rows_seen,
        new=trade_counts["new"] + cash_counts["new"],
        duplicates=trade_counts["duplicates"] + cash_counts["duplicates"],
        updated=trade_counts["updated"],
        errors=errors,
        trades=trade_counts,
        cash=cash_counts,
        balance_events=len(decided.balances),
        registered=account is not None,
    )


def _account_id_ok(account_id: str) -> bool:
    """Whether the contract takes ``account_id`` (else the per-row path reports it)."""
    try:
        BalanceEvent(
            account_id=account_id, ts=datetime(2000, 1, 1, tzinfo=UTC), balance=0.0, equity=0.0
        )
    except ValueError:
        return False
    return True


def _quality_frame(candidates: pl.DataFrame, now: datetime) -> tuple[pl.DataFrame, list[RowError]]:
    """:func:`_quality` over a frame: the rows that pass the trade suite, and an error per
    failing row (built only for those)."""
    if candidates.is_empty():
        return candidates, []
    result = validate_trade_frame(candidates, now=now)
    broken = [
        f"{o.reason} (the check could not run: {o.error})"
        for o in result.outcomes
        if o.error is not None
    ]
    failing = list(range(candidates.height)) if broken else sorted(result.row_failures)
    if not failing:
        return candidates, []
    at = pl.Series("at", failing, dtype=pl.UInt32)
    rows = candidates.select("row", "broker_trade_id")[at]
    errors = [
        RowError(
            row, "quality", "; ".join([*result.row_failures.get(index, ()), *broken]), trade_id
        )
        for index, (row, trade_id) in zip(failing, rows.iter_rows(), strict=True)
    ]
    passed = candidates.with_row_index("at").filter(~pl.col("at").is_in(at.implode())).drop("at")
    return passed, errors


def _check_tick_frame(ticks: pl.DataFrame, now: datetime) -> list[RowError]:
    if ticks.is_empty():
        return []
    result = validate_tick_frame(ticks, now=now)
    times = ticks["ts"]
    return [
        RowError(
            None, "balance", f"balance at {times[i].astimezone(UTC).isoformat()}: {'; '.join(r)}"
        )
        for i, r in result.row_failures.items()
    ]


class _FrameDecision(NamedTuple):
    """What the columnar path decided: the trades by outcome, the file's repeats of
    rows that passed, the balance ticks and every error."""

    classified: frames.Classified
    repeated: int
    ticks: pl.DataFrame
    errors: list[RowError]


def _run_columnar(
    request: ImportRequest,
    fmt: frames.ColumnarFormat,
    run: SyncRun,
    logs: SyncLogStore,
    *,
    pool: Pool,
    publisher: EventPublisher,
    now: datetime,
    stages: dict[str, float] | None,
) -> ImportResult:
    """:func:`_run` with the batch held as one frame from parse to store: the same
    events, counts, errors and stored rows (tests/integration/db/test_columnar_import.py),
    with objects built only for failing rows."""
    clock = _Stages(stages)
    ctx = ParseContext(request.account_id, request.timezone, request.filename)
    statement = fmt.parse_frame(request.data, ctx)
    parsed, trades = statement.parsed, statement.trades
    clock.lap("parse")
    account = _account(pool, request, parsed.meta.currency)
    if account is not None and any(e.row is None for e in parsed.errors):
        account = None  # the file could not be read as a whole: register nothing either
    name = getattr(fmt, "name", "generic-csv")
    run.rows_total = parsed.rows_seen
    run.format = name
    run.details.update(
        {
            "format": name,
            "file": request.filename,
            "broker_account": parsed.meta.account_number,
            "currency": parsed.meta.currency,
            "skipped": parsed.skipped,
        }
    )
    logs.progress(run)
    unique, repeats, repeat_errors = frames.split_repeats(trades)
    with pool.connection() as conn:
        stored_status = stored_trade_status_frame(
            conn, request.account_id, unique["broker_trade_id"]
        )
        initial = account_balance(conn, request.account_id)
    clock.lap("dedup")
    marked = frames.with_stored(unique, stored_status).with_columns(
        frames.stored_as_is().alias("as_is")
    )
    as_is = marked.filter(pl.col("as_is")).drop("as_is")
    candidates = marked.filter(~pl.col("as_is")).drop("as_is")

    def timeline(classified: frames.Classified) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The events in time order and the balance ticks of ``classified``."""
        first = frames.first_event_time(classified)
        start: float | None = None
        if first is not None:
            with pool.connection() as conn:
                start = balance_before(conn, request.account_id, first)
            if start is None:
                start = account.initial_balance if account else (initial[0] if initial else None)
        return frames.timeline(classified, request.account_id, start)

    # The trades and ticks if every candidate passes the suite, as nearly always: the
    # store writes them while the suite runs, and keeps them when that holds.
    guessed = frames.classify(pl.concat([candidates, as_is]))
    guessed_timeline = timeline(guessed)

    def work(hand_over: Callable[[ImportRows], None]) -> _FrameDecision:
        passed, quality_errors = _quality_frame(candidates, now)
        good = pl.concat([passed, as_is])
        clock.lap("validate")
        repeated = repeats.join(
            good.select("broker_trade_id", "status"), on=["broker_trade_id", "status"], how="semi"
        ).height
        if quality_errors:  # the guess assumed every candidate passes: decide again
            classified = frames.classify(good)
            same = classified.new.equals(guessed.new) and classified.updated.equals(guessed.updated)
            ordered, ticks = guessed_timeline if same else timeline(classified)
        else:
            classified, (ordered, ticks) = guessed, guessed_timeline
        clock.lap("dedup")
        errors = parsed.errors + repeat_errors + quality_errors
        errors += _check_tick_frame(ticks, now)
        clock.lap("validate")
        hand_over(
            ImportRows(
                new_trades=classified.new,
                updated_trades=frames.trade_events(classified.updated),
                ticks=ticks,
                dead_letters=_dead_letters(errors, name, request.account_id),
            )
        )
        lines = [event_bytes(account)] if account else []
        lines += frames.event_lines(ordered, request.account_id)
        publisher.publish_lines(request.account_id, lines)
        publisher.flush()
        clock.lap("publish")
        return _FrameDecision(classified, repeated, ticks, errors)

    stored, (classified, repeated, ticks, errors) = _store_alongside(
        pool,
        account_id=request.account_id,
        source=f"import:{name}",
        account=account,
        rows=ImportRows(new_trades=guessed.new, ticks=guessed_timeline[1]),
        guessed=True,
        work=work,
    )
    clock.lap("store")
    trade_counts = {
        "new": stored.trades.new,
        "updated": stored.trades.updated,
        "duplicates": classified.duplicate + repeated + stored.trades.duplicate,
    }
    cash_counts = {"new": 0, "duplicates": 0}
    run.count(
        new=trade_counts["new"],
        updated=trade_counts["updated"],
        duplicate=trade_counts["duplicates"],
        ticks=stored.ticks,
        balance_events=ticks.height,
        rows_done=parsed.rows_seen,
    )
    for error in errors:
        run.error(row=error.row, where=error.where, reason=error.reason, raw=error.raw)
    run.details.update({"cash_new": 0, "cash_duplicates": 0})
    record: SyncLogRecord = logs.finish(run)
    clock.lap("sync log")
    _log.info(
        "import %s into %s: %d new, %d updated, %d duplicates, %d errors",
        request.filename,
        request.account_id,
        trade_counts["new"],
        trade_counts["updated"],
        trade_counts["duplicates"],
        len(errors),
    )
    return ImportResult(
        sync_log_id=record.id,
        status=record.status,
        format=name,
        account_id=request.account_id,
        rows=parsed.rows_seen,
        new=trade_counts["new"],
        duplicates=trade_counts["duplicates"],
        updated=trade_counts["updated"],
        errors=errors,
        trades=trade_counts,
        cash=cash_counts,
        balance_events=ticks.height,
        registered=account is not None,
    )
