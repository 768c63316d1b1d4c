"""Storage for statement imports: what is stored already (dedup) and one atomic write.

- :func:`stored_trade_status`: the stored status of each of the import's trade ids
  (:func:`stored_trade_status_frame`: the same for a column of ids, as a frame);
- :func:`stored_cash_keys`: which of its cash movements are stored;
- :func:`balance_before`: the last stored balance at or before a time (running balance);
- :func:`account_balance`: a registered account's initial balance and currency;
- :func:`store_import`: the account event, trades (new ones through a binary COPY into
  a staging table, updated ones upserted), balance ticks, cash movements and dead
  letters in ONE transaction, recorded in ``sink_batches`` so a retry after a lost
  commit acknowledgement stores nothing twice; ``before_commit`` holds the commit until
  the caller says so (the importer publishes meanwhile, and a failed publish rolls the
  transaction back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import polars as pl
import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from infra.db.pool import Pool
from infra.db.retry import RetryPolicy, run_with_retry
from infra.db.sinks import (
    DeadLetter,
    TradeCounts,
    copy_ticks,
    insert_dead_letters,
    upsert_accounts,
    upsert_trades,
)
from schemas.events import AccountEvent, BalanceEvent, TradeEvent

Connection = psycopg.Connection[TupleRow]
CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class CashRow:
    """A cash movement as stored in ``statement_cash``."""

    cash_key: str
    ts: datetime
    amount: float
    kind: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class StoredImport:
    """What :func:`store_import` wrote (``replayed``: the batch was committed before)."""

    trades: TradeCounts
    ticks: int
    cash: int
    dead_letters: int
    replayed: bool = False


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


# On TimescaleDB a trade's unique key includes its entry time (a hypertable's unique keys
# must hold its time column), so one id may be stored twice when a broker changed the
# entry time it reports. The stored status of an id is then one answer, the same on both
# paths: closed if any row of it is closed (a closed trade stays closed), else the newest.
_ONE_STATUS_PER_ID = "DISTINCT ON (broker_trade_id) broker_trade_id, status"
_ONE_STATUS_ORDER = "broker_trade_id, status = 'closed' DESC, updated_at DESC, entry_time DESC"


def stored_trade_status(conn: Connection, account_id: str, ids: Sequence[str]) -> dict[str, str]:
    """broker_trade_id → stored status, for the ids of ``ids`` that are stored."""
    found: dict[str, str] = {}
    for chunk in _chunks(ids):
        rows = conn.execute(
            f"SELECT {_ONE_STATUS_PER_ID} FROM trades "  # noqa: S608 - constant text
            "WHERE account_id = %s AND broker_trade_id = ANY(%s) "
            f"ORDER BY {_ONE_STATUS_ORDER}",
            (account_id, chunk),
        ).fetchall()
        found.update((str(trade_id), str(status)) for trade_id, status in rows)
    return found


_STAGE_KEYS = "CREATE TEMP TABLE import_keys (broker_trade_id text) ON COMMIT DROP"
_STORED_OF_KEYS = """
COPY (SELECT DISTINCT ON (t.broker_trade_id) t.broker_trade_id, t.status FROM trades t
      JOIN (SELECT DISTINCT broker_trade_id FROM import_keys) k USING (broker_trade_id)
      WHERE t.account_id = {account}
      ORDER BY t.broker_trade_id, t.status = 'closed' DESC, t.updated_at DESC,
               t.entry_time DESC) TO STDOUT (FORMAT CSV)
"""


def stored_trade_status_frame(conn: Connection, account_id: str, ids: pl.Series) -> pl.DataFrame:
    """:func:`stored_trade_status` for a column of ids, as a frame ``broker_trade_id,
    stored_status``: the ids go in by one COPY into a temporary table, the stored rows
    of those ids come back by one COPY out (no per-id parameters or Python rows)."""
    schema = {"broker_trade_id": pl.String(), "stored_status": pl.String()}
    if ids.is_empty():
        return pl.DataFrame(schema=schema)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_STAGE_KEYS)
        with cur.copy("COPY import_keys (broker_trade_id) FROM STDIN (FORMAT CSV)") as copy:
            copy.write(_csv(ids.to_frame("broker_trade_id")))
        # A new temporary table has no statistics: the planner takes it for 200 rows and
        # joins a million keys by nested loop (7.5 s against 2.1 s by hash join, BENCHMARKS.md
        # "Statement imports: the roll-up's day lookup and the key join").
        cur.execute("ANALYZE import_keys")
        query = sql.SQL(_STORED_OF_KEYS).format(account=sql.Literal(account_id))
        out = bytearray()
        with cur.copy(query) as copy:
            for block in copy:
                out += block
    if not out:
        return pl.DataFrame(schema=schema)
    return pl.read_csv(bytes(out), has_header=False, new_columns=list(schema), schema=schema)


def _csv(frame: pl.DataFrame) -> bytes:
    """A frame as COPY's CSV: strings quoted (an empty string stays one), null as an
    unquoted empty field, times as UTC with ``Z``."""
    return frame.write_csv(
        include_header=False,
        null_value="",
        quote_style="non_numeric",
        datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ",
        float_scientific=None,
    ).encode()


def stored_cash_keys(conn: Connection, account_id: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(keys):
        rows = conn.execute(
            "SELECT cash_key FROM statement_cash WHERE account_id = %s AND cash_key = ANY(%s)",
            (account_id, chunk),
        ).fetchall()
        found.update(str(row[0]) for row in rows)
    return found


def balance_before(conn: Connection, account_id: str, ts: datetime) -> float | None:
    """The balance of the last stored tick at or before ``ts`` (None: no tick yet)."""
    row = conn.execute(
        "SELECT balance FROM balance_ticks WHERE account_id = %s AND ts <= %s "
        "ORDER BY ts DESC LIMIT 1",
        (account_id, ts),
    ).fetchone()
    return None if row is None else float(row[0])


def account_balance(conn: Connection, account_id: str) -> tuple[float, str] | None:
    """(initial balance, currency) of a registered account, or None."""
    row = conn.execute(
        "SELECT initial_balance, currency FROM accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    return None if row is None else (float(row[0]), str(row[1]))


_STAGE_TRADES = """
CREATE TEMP TABLE import_trades (
    account_id text, broker_trade_id text, status text, symbol text, side text,
    quantity float8, entry_price float8, entry_time timestamptz, exit_price float8,
    exit_time timestamptz, pnl float8, commission float8, swap float8, stop_loss float8,
    take_profit float8, notes text
) ON COMMIT DROP
"""
_COPY_STAGED = (
    "COPY import_trades (account_id, broker_trade_id, status, symbol, side, quantity, "
    "entry_price, entry_time, exit_price, exit_time, pnl, commission, swap, stop_loss, "
    "take_profit, notes) FROM STDIN (FORMAT BINARY)"
)
_STAGED_TYPES = [
    "text", "text", "text", "text", "text", "float8", "float8", "timestamptz", "float8",
    "timestamptz", "float8", "float8", "float8", "float8", "float8", "text",
]  # fmt: skip
# float8 -> numeric keeps 15 significant digits, more than any broker prints.
_INSERT_STAGED = """
INSERT INTO trades (account_id, broker_trade_id, status, symbol, side, quantity, entry_price,
                    entry_time, exit_price, exit_time, pnl, commission, swap, stop_loss,
                    take_profit, notes, source)
SELECT account_id, broker_trade_id, status, symbol, side, quantity::numeric,
       entry_price::numeric, entry_time, exit_price::numeric, exit_time, pnl::numeric,
       commission::numeric, swap::numeric, stop_loss::numeric, take_profit::numeric, notes, %s
FROM import_trades
ON CONFLICT ON CONSTRAINT trades_broker_trade_key DO NOTHING
"""


_TRADE_COLUMNS = (
    "account_id", "broker_trade_id", "status", "symbol", "side", "quantity", "entry_price",
    "entry_time", "exit_price", "exit_time", "pnl", "commission", "swap", "stop_loss",
    "take_profit", "notes",
)  # fmt: skip


_COPY_TRADES = sql.SQL("COPY trades ({}) FROM STDIN (FORMAT CSV)").format(
    sql.SQL(", ").join(sql.Identifier(name) for name in (*_TRADE_COLUMNS, "source"))
)
_NUMERIC_COLUMNS = (
    "quantity", "entry_price", "exit_price", "pnl", "commission", "swap", "stop_loss",
    "take_profit",
)  # fmt: skip
_FLOAT8_DIGITS = 15  # float8 -> numeric writes the float with "%.15g" (DBL_DIG)
_SMALLEST_NORMAL = 2.2250738585072014e-308  # DBL_MIN


def numeric_text(values: pl.Series) -> pl.Series:
    """Each float as the text PostgreSQL's ``float8::numeric`` makes of it (so that a
    COPY of this text stores the very numeric the staging table's cast stores, scale
    included): the shortest text that reads back as the float, when it has at most 15
    significant digits (then it is the same number as ``%.15g``'s, and ``X.0`` is
    written ``X`` as ``%g`` does); else, and for subnormal floats, ``%.15g`` itself,
    from Python (a few values).
    Null stays null."""
    text = values.cast(pl.String)
    # A text of at most 15 characters has at most 15 digits: only longer ones (and
    # subnormal floats, which hold fewer digits than 15, so "%.15g" may print more than
    # the shortest text has) are looked at digit by digit.
    subnormal = (values.abs() < _SMALLEST_NORMAL) & (values != 0)
    suspect = ((text.str.len_bytes() > _FLOAT8_DIGITS) | subnormal).fill_null(False)
    if suspect.any():
        at = suspect.arg_true()
        significant = (
            text.gather(at)
            .str.replace(r"e.*$", "")
            .str.replace_all(r"[-.]", "")
            .str.strip_chars("0")
            .str.len_chars()
        )
        longer = at.filter((significant > _FLOAT8_DIGITS) | subnormal.gather(at))
        if not longer.is_empty():
            formatted = [format(v, ".15g") for v in values.gather(longer).to_list()]
            text = text.scatter(longer, formatted)
    return text.str.strip_suffix(".0")


def _copy_trade_frame(cur: psycopg.Cursor[TupleRow], trades: pl.DataFrame, source: str) -> bool:
    """COPY the frame straight into ``trades`` (no staging table, no conflict check: the
    import found none of these ids stored); False when one was stored meanwhile (by
    another import), with nothing of this COPY left."""
    block = _csv(
        trades.select(_TRADE_COLUMNS).with_columns(
            *(numeric_text(trades[name].cast(pl.Float64)) for name in _NUMERIC_COLUMNS),
            pl.lit(source).alias("source"),
        )
    )
    cur.execute("SAVEPOINT import_copy")
    try:
        with cur.copy(_COPY_TRADES) as copy:
            copy.write(block)
    except psycopg.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT import_copy")
        return False
    cur.execute("RELEASE SAVEPOINT import_copy")
    return True


def copy_new_trades(
    cur: psycopg.Cursor[TupleRow], trades: Sequence[TradeEvent] | pl.DataFrame, source: str
) -> int:
    """Insert trades not stored yet; returns how many were inserted (a row stored
    meanwhile is skipped). A frame of the contract's columns goes straight into the
    table by one CSV COPY, or (when a row was stored meanwhile) like a list: through a
    binary COPY into a staging table and an insert that skips stored keys."""
    if len(trades) == 0:
        return 0
    if isinstance(trades, pl.DataFrame) and _copy_trade_frame(cur, trades, source):
        return trades.height
    cur.execute(_STAGE_TRADES)
    if isinstance(trades, pl.DataFrame):
        with cur.copy(_COPY_STAGED.replace("BINARY", "CSV")) as copy:
            copy.write(_csv(trades.select(_TRADE_COLUMNS)))
        cur.execute(_INSERT_STAGED, (source,))
        return cur.rowcount
    with cur.copy(_COPY_STAGED) as copy:
        copy.set_types(_STAGED_TYPES)
        write_row = copy.write_row
        for t in trades:
            write_row(
                (
                    t.account_id, t.broker_trade_id, t.status, t.symbol, t.side, t.quantity,
                    t.entry_price, t.entry_time, t.exit_price, t.exit_time, t.pnl,
                    t.commission, t.swap, t.stop_loss, t.take_profit, t.notes,
                )
            )  # fmt: skip
    cur.execute(_INSERT_STAGED, (source,))
    return cur.rowcount


def _copy_tick_frame(cur: psycopg.Cursor[TupleRow], ticks: pl.DataFrame) -> int:
    if ticks.is_empty():
        return 0
    with cur.copy(
        "COPY balance_ticks (account_id, ts, balance, equity) FROM STDIN (FORMAT CSV)"
    ) as copy:
        copy.write(_csv(ticks.select("account_id", "ts", "balance", "equity")))
    return ticks.height


_INSERT_CASH = """
INSERT INTO statement_cash (account_id, cash_key, ts, amount, kind, comment, source)
SELECT %s, u.cash_key, u.ts, u.amount, u.kind, u.comment, %s
FROM unnest(%s::text[], %s::timestamptz[], %s::numeric[], %s::text[], %s::text[])
     AS u (cash_key, ts, amount, kind, comment)
ON CONFLICT (account_id, cash_key) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class ImportRows:
    """What an import writes besides its account (see :func:`store_import`)."""

    new_trades: Sequence[TradeEvent] | pl.DataFrame
    updated_trades: Sequence[TradeEvent] = ()
    ticks: Sequence[BalanceEvent] | pl.DataFrame = ()
    cash: Sequence[CashRow] = ()
    dead_letters: Sequence[DeadLetter] = ()

    def size(self) -> int:
        return len(self.new_trades) + len(self.updated_trades) + len(self.ticks) + len(self.cash)


def _same_rows(a: Sequence[object] | pl.DataFrame, b: Sequence[object] | pl.DataFrame) -> bool:
    """The same rows: equal frames, or the very same sequence."""
    if a is b:
        return True
    return isinstance(a, pl.DataFrame) and isinstance(b, pl.DataFrame) and a.equals(b)


def _write_ticks(
    cur: psycopg.Cursor[TupleRow], ticks: Sequence[BalanceEvent] | pl.DataFrame
) -> int:
    if isinstance(ticks, pl.DataFrame):
        return _copy_tick_frame(cur, ticks)
    return copy_ticks(cur, ticks)


def store_import(
    pool: Pool,
    *,
    batch_id: UUID,
    account_id: str,
    source: str,
    account: AccountEvent | None,
    rows: ImportRows,
    settle: Callable[[], ImportRows] | None = None,
    retry: RetryPolicy | None = None,
    before_commit: Callable[[], None] | None = None,
) -> StoredImport:
    """Write one import in one transaction (see the module doc). New trades and ticks may
    come as frames (the contract's columns; ticks ``account_id, ts, balance, equity``).

    ``settle`` (optional) is for an import still deciding while the database works:
    ``rows.new_trades`` and ``rows.ticks`` are then a guess, written at once, and
    ``settle()`` (which may wait) gives the rows to write. Its new trades and ticks replace
    the guess, which is rolled back to a savepoint, unless both are the same rows (equal
    frames, or the very same sequences); the rest of ``rows`` is not used. What
    ``settle`` raises rolls the import back.

    ``before_commit`` runs last inside the transaction, after every row is written: it
    may wait, and what it raises rolls the whole import back (and is raised here)."""
    settled: list[ImportRows] = []

    def write_guess(cur: psycopg.Cursor[TupleRow]) -> tuple[ImportRows, int, int | None]:
        """The new trades written (and the ticks, when guessed right): the rows to write,
        how many trades were new, and how many ticks were written (None: not yet)."""
        if settle is None or settled:
            final = settled[0] if settled else rows
            return final, copy_new_trades(cur, final.new_trades, source), None
        cur.execute("SAVEPOINT import_guess")
        inserted = copy_new_trades(cur, rows.new_trades, source)
        ticks = _write_ticks(cur, rows.ticks)
        final = settle()
        settled.append(final)
        if _same_rows(final.new_trades, rows.new_trades) and _same_rows(final.ticks, rows.ticks):
            return final, inserted, ticks
        cur.execute("ROLLBACK TO SAVEPOINT import_guess")
        return final, copy_new_trades(cur, final.new_trades, source), None

    def work(conn: Connection) -> StoredImport:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO sink_batches (batch_id, rows_stored) VALUES (%s, %s) "
                "ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id",
                (batch_id, rows.size()),
            )
            if cur.fetchone() is None:
                return StoredImport(TradeCounts(), 0, 0, 0, replayed=True)
            upsert_accounts(cur, [account] if account else [])
            final, inserted, stored_ticks = write_guess(cur)
            if final.size() != rows.size():
                cur.execute(
                    "UPDATE sink_batches SET rows_stored = %s WHERE batch_id = %s",
                    (final.size(), batch_id),
                )
            counts = upsert_trades(cur, final.updated_trades, source=source) + TradeCounts(
                new=inserted, duplicate=len(final.new_trades) - inserted
            )
            if stored_ticks is None:
                stored_ticks = _write_ticks(cur, final.ticks)
            cash = final.cash
            if cash:
                cur.execute(
                    _INSERT_CASH,
                    (
                        account_id,
                        source,
                        [c.cash_key for c in cash],
                        [c.ts for c in cash],
                        [Decimal(repr(c.amount)) for c in cash],
                        [c.kind for c in cash],
                        [c.comment for c in cash],
                    ),
                )
            letters = insert_dead_letters(cur, final.dead_letters)
        if before_commit is not None:
            before_commit()
        return StoredImport(counts, stored_ticks, len(cash), letters)

    return run_with_retry(
        pool, work, policy=retry or RetryPolicy(), what=f"import batch {batch_id}"
    )
