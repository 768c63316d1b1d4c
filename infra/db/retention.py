"""Raw tick retention on plain PostgreSQL: delete old ticks, keep the daily roll-up.

TimescaleDB drops old tick chunks by the retention policy its migration adds; plain
PostgreSQL has no such policy, so ``aetheris db prune`` (run it from cron or a systemd
timer) deletes ticks older than a cutoff. Each batch is its own short transaction with
``aetheris.pruning`` set, which tells the roll-up's delete trigger to keep those days'
rows (migration 0003): the dashboard's daily figures outlive the raw ticks, as on
TimescaleDB. Batches go account by account through the ``(account_id, ts)`` index, so
pruning needs no index of its own and never holds locks for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from infra.db.errors import StorageError
from infra.db.migrate import database_backend

Connection = psycopg.Connection[TupleRow]

# Days are trading days (a Topstep day is labelled with the date it ends): a tick
# before the cutoff lies in a day labelled at most one day after the cutoff's UTC date.
_ACCOUNTS_WITH_OLD_DAYS = """
SELECT DISTINCT account_id FROM daily_account_snapshots
WHERE day <= (%s AT TIME ZONE 'UTC')::date + 1 AND first_tick_at IS NOT NULL
ORDER BY account_id
"""
# Through balance_ticks_account_ts_idx: one account's oldest ticks, a batch at a time.
_DELETE_BATCH = """
DELETE FROM balance_ticks WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM balance_ticks WHERE account_id = %s AND ts < %s LIMIT %s
))
"""


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune did: ticks deleted, accounts they belonged to, transactions used."""

    ticks: int
    accounts: int
    batches: int


def prune_ticks(conn: Connection, before: datetime, *, batch_size: int = 50_000) -> PruneReport:
    """Delete the balance ticks older than ``before`` (aware), keeping the daily roll-up.

    ``conn`` must not be inside a transaction: each batch commits on its own. Raises
    :class:`StorageError` on a TimescaleDB database (its retention policy does this) and
    on one that is not migrated.
    """
    if before.tzinfo is None:
        raise ValueError("the cutoff needs a time zone (an aware datetime)")
    if batch_size < 1:
        raise ValueError(f"a batch deletes at least one tick, got {batch_size}")
    backend = database_backend(conn)
    if backend is None:
        raise StorageError("the database is not migrated: run `aetheris db migrate` first")
    if backend == "timescaledb":
        raise StorageError(
            "on TimescaleDB old ticks are dropped by the retention policy on balance_ticks "
            "(400 days); change it with remove_retention_policy / add_retention_policy"
        )
    accounts = [row[0] for row in conn.execute(_ACCOUNTS_WITH_OLD_DAYS, (before,)).fetchall()]
    conn.commit()
    ticks = batches = touched = 0
    for account_id in accounts:
        deleted_here = 0
        while True:
            with conn.transaction():
                conn.execute("SET LOCAL aetheris.pruning = 'on'")
                deleted = conn.execute(_DELETE_BATCH, (account_id, before, batch_size)).rowcount
            batches += 1
            deleted_here += deleted
            if deleted < batch_size:
                break
        ticks += deleted_here
        touched += deleted_here > 0
    return PruneReport(ticks=ticks, accounts=touched, batches=batches)
