"""Fast, idempotent sinks from the pipeline into PostgreSQL / TimescaleDB.

- balance ticks: binary ``COPY`` (the hot path; nothing else is imported here);
- trades: upsert on (account_id, broker_trade_id) -- an open trade later closed updates
  its row, a repeat is counted as a duplicate, a stale "open" never reopens a closed
  trade;
- breaches: insert on the deterministic ``breach_id``, so a replayed breach is stored
  once and only the new ids are returned (for notifications);
- accounts and dead letters.

One :meth:`PostgresSink.write` call is one transaction. On a lost connection it is
retried on a fresh connection with the whole batch, which the caller keeps until the
call returns. Each batch id is recorded in ``sink_batches`` in the same transaction,
so a retry after a commit whose acknowledgement was lost stores nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from infra.db.pool import Pool
from infra.db.retry import RetryPolicy, run_with_retry
from schemas.events import AccountEvent, BalanceEvent, BreachEvent, TradeEvent

Event = AccountEvent | BalanceEvent | TradeEvent | BreachEvent
Cursor = psycopg.Cursor[TupleRow]


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be applied: where it came from, its raw text, and why."""

    source: str
    raw_payload: str
    reason: str
    account_id: str | None = None


@dataclass(frozen=True)
class TradeCounts:
    """Outcome of a trade upsert, as a sync log reports it."""

    new: int = 0
    updated: int = 0
    duplicate: int = 0

    def __add__(self, other: TradeCounts) -> TradeCounts:
        return TradeCounts(
            self.new + other.new,
            self.updated + other.updated,
            self.duplicate + other.duplicate,
        )

    @property
    def total(self) -> int:
        return self.new + self.updated + self.duplicate


@dataclass(frozen=True)
class WriteReport:
    """What one batch stored. ``replayed``: the batch id was committed before (nothing
    was written again)."""

    batch_id: UUID
    accounts: int = 0
    ticks: int = 0
    trades: TradeCounts = field(default_factory=TradeCounts)
    new_breach_ids: tuple[str, ...] = ()
    dead_letters: int = 0
    replayed: bool = False


# -- statements on a cursor (no commit; the caller owns the transaction) ----------------

_COPY_TICKS = "COPY balance_ticks (account_id, ts, balance, equity) FROM STDIN (FORMAT BINARY)"
_TICK_TYPES = ["text", "timestamptz", "float8", "float8"]


def copy_ticks(cur: Cursor, ticks: Sequence[BalanceEvent]) -> int:
    """Append balance ticks with binary COPY; returns how many."""
    if not ticks:
        return 0
    with cur.copy(_COPY_TICKS) as copy:
        copy.set_types(_TICK_TYPES)
        write_row = copy.write_row
        for tick in ticks:
            write_row((tick.account_id, tick.ts, tick.balance, tick.equity))
    return len(ticks)


_UPSERT_ACCOUNT = """
INSERT INTO accounts AS a (account_id, name, ruleset, overrides, initial_balance, currency)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (account_id) DO UPDATE SET
    name = coalesce(EXCLUDED.name, a.name),
    ruleset = EXCLUDED.ruleset,
    overrides = EXCLUDED.overrides,
    initial_balance = EXCLUDED.initial_balance,
    currency = EXCLUDED.currency
WHERE (a.name, a.ruleset, a.overrides, a.initial_balance, a.currency)
    IS DISTINCT FROM (coalesce(EXCLUDED.name, a.name), EXCLUDED.ruleset, EXCLUDED.overrides,
                      EXCLUDED.initial_balance, EXCLUDED.currency)
"""


def upsert_accounts(cur: Cursor, accounts: Sequence[AccountEvent]) -> int:
    """Register or update accounts (the account event is the source of truth)."""
    if not accounts:
        return 0
    cur.executemany(
        _UPSERT_ACCOUNT,
        [
            (
                a.account_id,
                a.name,
                a.ruleset,
                Jsonb(a.overrides or {}),
                _decimal(a.initial_balance),
                a.currency,
            )
            for a in accounts
        ],
    )
    return len(accounts)


# A batch is written in waves: wave k holds the k-th event of each trade, so one
# statement never touches a row twice and a trade's events apply in batch order; one
# statement per wave (not per trade) keeps the roll-up triggers to one run per wave.
# A repeat of the stored state (or a stale "open" after "closed") matches no row of the
# DO UPDATE and returns nothing: a duplicate. xmax = 0 tells a new row from an update.
# Tags merge; notes keep the stored text unless the event brings one.
_UPSERT_TRADES = """
INSERT INTO trades AS t (
    account_id, broker_trade_id, status, symbol, side, quantity, entry_price, entry_time,
    exit_price, exit_time, pnl, commission, swap, stop_loss, take_profit, mfe, mae,
    tags, notes, source
)
SELECT u.account_id, u.broker_trade_id, u.status, u.symbol, u.side, u.quantity,
       u.entry_price, u.entry_time, u.exit_price, u.exit_time, u.pnl, u.commission, u.swap,
       u.stop_loss, u.take_profit, u.mfe, u.mae,
       ARRAY(SELECT jsonb_array_elements_text(u.tags)), u.notes, u.source
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::numeric[],
            %s::numeric[], %s::timestamptz[], %s::numeric[], %s::timestamptz[],
            %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[],
            %s::numeric[], %s::numeric[], %s::jsonb[], %s::text[], %s::text[])
     AS u (account_id, broker_trade_id, status, symbol, side, quantity, entry_price,
           entry_time, exit_price, exit_time, pnl, commission, swap, stop_loss, take_profit,
           mfe, mae, tags, notes, source)
ON CONFLICT ON CONSTRAINT trades_broker_trade_key DO UPDATE SET
    (status, symbol, side, quantity, entry_price, entry_time, exit_price, exit_time, pnl,
     commission, swap, stop_loss, take_profit, mfe, mae, tags, notes, updated_at)
    = (EXCLUDED.status, EXCLUDED.symbol, EXCLUDED.side, EXCLUDED.quantity,
       EXCLUDED.entry_price, EXCLUDED.entry_time, EXCLUDED.exit_price, EXCLUDED.exit_time,
       EXCLUDED.pnl, EXCLUDED.commission, EXCLUDED.swap, EXCLUDED.stop_loss,
       EXCLUDED.take_profit, EXCLUDED.mfe, EXCLUDED.mae,
       ARRAY(SELECT DISTINCT tag FROM unnest(t.tags || EXCLUDED.tags) AS tag ORDER BY 1),
       coalesce(EXCLUDED.notes, t.notes), now())
WHERE (t.status = 'open' OR EXCLUDED.status = 'closed')
  AND (t.status, t.symbol, t.side, t.quantity, t.entry_price, t.entry_time, t.exit_price,
       t.exit_time, t.pnl, t.commission, t.swap, t.stop_loss, t.take_profit, t.mfe, t.mae,
       t.tags, t.notes)
      IS DISTINCT FROM
      (EXCLUDED.status, EXCLUDED.symbol, EXCLUDED.side, EXCLUDED.quantity,
       EXCLUDED.entry_price, EXCLUDED.entry_time, EXCLUDED.exit_price, EXCLUDED.exit_time,
       EXCLUDED.pnl, EXCLUDED.commission, EXCLUDED.swap, EXCLUDED.stop_loss,
       EXCLUDED.take_profit, EXCLUDED.mfe, EXCLUDED.mae,
       ARRAY(SELECT DISTINCT tag FROM unnest(t.tags || EXCLUDED.tags) AS tag ORDER BY 1),
       coalesce(EXCLUDED.notes, t.notes))
RETURNING (xmax = 0) AS inserted
"""


def _decimal(value: float | None) -> Decimal | None:
    """The float as the shortest decimal that reads back as the same float."""
    return None if value is None else Decimal(repr(value))


def _trade_columns(trades: Sequence[TradeEvent], source: str | None) -> tuple[list[Any], ...]:
    return (
        [t.account_id for t in trades],
        [t.broker_trade_id for t in trades],
        [t.status for t in trades],
        [t.symbol for t in trades],
        [t.side for t in trades],
        [_decimal(t.quantity) for t in trades],
        [_decimal(t.entry_price) for t in trades],
        [t.entry_time for t in trades],
        [_decimal(t.exit_price) for t in trades],
        [t.exit_time for t in trades],
        [_decimal(t.pnl) for t in trades],
        [_decimal(t.commission) for t in trades],
        [_decimal(t.swap) for t in trades],
        [_decimal(t.stop_loss) for t in trades],
        [_decimal(t.take_profit) for t in trades],
        [_decimal(t.mfe) for t in trades],
        [_decimal(t.mae) for t in trades],
        [Jsonb(list(t.tags)) for t in trades],
        [t.notes for t in trades],
        [source] * len(trades),
    )


def upsert_trades(
    cur: Cursor, trades: Sequence[TradeEvent], *, source: str | None = None
) -> TradeCounts:
    """Insert new trades, update changed ones, count repeats; a trade's events apply in
    batch order."""
    waves: list[list[TradeEvent]] = []
    seen: dict[tuple[str, str], int] = {}
    for trade in trades:
        key = (trade.account_id, trade.broker_trade_id)
        wave = seen.get(key, 0)
        seen[key] = wave + 1
        if wave == len(waves):
            waves.append([])
        waves[wave].append(trade)
    new = updated = 0
    for wave_trades in waves:
        cur.execute(_UPSERT_TRADES, _trade_columns(wave_trades, source))
        for (inserted,) in cur.fetchall():
            if inserted:
                new += 1
            else:
                updated += 1
    return TradeCounts(new=new, updated=updated, duplicate=len(trades) - new - updated)


_INSERT_BREACHES = """
INSERT INTO breaches (breach_id, account_id, rule, level, ts, value, limit_value, threshold,
                      message)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::smallint[], %s::timestamptz[],
                     %s::float8[], %s::float8[], %s::float8[], %s::text[])
ON CONFLICT ON CONSTRAINT breaches_breach_id_key DO NOTHING
RETURNING breach_id
"""


def insert_new(
    cur: Cursor, sql: str, columns: Sequence[Sequence[Any]], ids: Sequence[str]
) -> tuple[str, ...]:
    """Run an ``INSERT … ON CONFLICT … DO NOTHING RETURNING <id>`` over ``columns``; the
    ids of ``ids`` that were new, in the order given (a repeated id once)."""
    cur.execute(sql, tuple(columns))
    stored = {row[0] for row in cur.fetchall()}
    return tuple(dict.fromkeys(i for i in ids if i in stored))


def insert_breaches(cur: Cursor, breaches: Sequence[BreachEvent]) -> tuple[str, ...]:
    """Store breaches not seen before; returns the ids that were new, in batch order."""
    if not breaches:
        return ()
    return insert_new(
        cur,
        _INSERT_BREACHES,
        (
            [b.breach_id for b in breaches],
            [b.account_id for b in breaches],
            [b.rule for b in breaches],
            [b.level for b in breaches],
            [b.ts for b in breaches],
            [b.value for b in breaches],
            [b.limit for b in breaches],
            [b.threshold for b in breaches],
            [b.message for b in breaches],
        ),
        [b.breach_id for b in breaches],
    )


_INSERT_DEAD_LETTERS = """
INSERT INTO dead_letters (source, raw_payload, reason, account_id)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
"""


def insert_dead_letters(cur: Cursor, letters: Sequence[DeadLetter]) -> int:
    """Keep messages that could not be applied, with the reason."""
    if not letters:
        return 0
    cur.execute(
        _INSERT_DEAD_LETTERS,
        (
            [d.source for d in letters],
            # PostgreSQL text cannot hold NUL; keep the rest of the payload readable.
            [d.raw_payload.replace("\x00", "\\u0000") for d in letters],
            [d.reason for d in letters],
            [d.account_id for d in letters],
        ),
    )
    return len(letters)


# -- the sink ---------------------------------------------------------------------------


class PostgresSink:
    """Stores batches of contract events; one batch, one transaction, retried as a whole.

    Thread-safe as far as the pool is (one connection per call).
    """

    def __init__(
        self,
        pool: Pool,
        *,
        source: str = "pipeline",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        prune_ledger_every: int = 1000,
    ) -> None:
        self._pool = pool
        self._source = source
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._prune_every = prune_ledger_every
        self._writes = 0

    def write(
        self,
        events: Iterable[Event],
        *,
        dead_letters: Sequence[DeadLetter] = (),
        batch_id: UUID | None = None,
    ) -> WriteReport:
        """Store every event of the batch (accounts first) and the dead letters.

        Pass the same ``batch_id`` when re-submitting a batch whose earlier ``write``
        raised: if that one did commit, nothing is stored twice.
        """
        accounts: list[AccountEvent] = []
        ticks: list[BalanceEvent] = []
        trades: list[TradeEvent] = []
        breaches: list[BreachEvent] = []
        for event in events:
            if isinstance(event, BalanceEvent):
                ticks.append(event)
            elif isinstance(event, TradeEvent):
                trades.append(event)
            elif isinstance(event, BreachEvent):
                breaches.append(event)
            else:
                accounts.append(event)
        batch = batch_id or uuid4()
        size = len(accounts) + len(ticks) + len(trades) + len(breaches) + len(dead_letters)
        if size == 0:
            return WriteReport(batch_id=batch)
        self._writes += 1
        prune = self._prune_every > 0 and self._writes % self._prune_every == 0

        def work(conn: psycopg.Connection[TupleRow]) -> WriteReport:
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO sink_batches (batch_id, rows_stored) VALUES (%s, %s) "
                    "ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id",
                    (batch, size),
                )
                if cur.fetchone() is None:
                    return WriteReport(batch_id=batch, replayed=True)
                report = WriteReport(
                    batch_id=batch,
                    accounts=upsert_accounts(cur, accounts),
                    ticks=copy_ticks(cur, ticks),
                    trades=upsert_trades(cur, trades, source=self._source),
                    new_breach_ids=insert_breaches(cur, breaches),
                    dead_letters=insert_dead_letters(cur, dead_letters),
                )
                if prune:
                    cur.execute(
                        "DELETE FROM sink_batches WHERE committed_at < now() - interval '1 day'"
                    )
            return report

        return run_with_retry(
            self._pool, work, policy=self._retry, what=f"batch {batch}", sleep=self._sleep
        )

    def write_ticks(self, ticks: Sequence[BalanceEvent], *, batch_id: UUID | None = None) -> int:
        """COPY a batch of balance ticks; returns how many were stored."""
        return self.write(ticks, batch_id=batch_id).ticks

    def write_trades(self, trades: Sequence[TradeEvent]) -> TradeCounts:
        """Upsert a batch of trades; returns new / updated / duplicate counts."""
        return self.write(trades).trades

    def write_breaches(self, breaches: Sequence[BreachEvent]) -> tuple[str, ...]:
        """Store a batch of breaches; returns the ids not stored before."""
        return self.write(breaches).new_breach_ids

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store messages that could not be applied."""
        return self.write((), dead_letters=letters).dead_letters
