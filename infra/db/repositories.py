"""The queries the API and the importers make, over a connection they pass in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from schemas.rulesets import builtin_rulesets

Connection = psycopg.Connection[TupleRow]


@dataclass(frozen=True)
class DailyPnl:
    """One row of ``daily_account_pnl``: an account's trading day.

    ``day`` is the trading day as the engine counts it (``risk_engine.calendar``): the
    label of the day by the account's rule set's time zone and day start (midnight
    Europe/Prague for FTMO, 17:00 America/Chicago for Topstep, UTC midnight for an
    account the database does not know).

    Tick columns are None on a day without ticks; ``gross_loss`` is the (non-positive)
    sum of the losing trades, so ``net_pnl = gross_profit + gross_loss``.
    """

    account_id: str
    day: date
    start_balance: float | None
    end_balance: float | None
    net_pnl: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    trades: int
    wins: int
    losses: int
    max_intraday_drawdown: float | None
    high_equity: float | None
    low_equity: float | None


# aetheris_daily_pnl (migration 0005) is the view's rows for one account and range, on
# either backend; on TimescaleDB it reads only the hourly aggregate rows of those days.
DAILY_PNL_QUERY = """
SELECT account_id, day, start_balance, end_balance, net_pnl, gross_profit, gross_loss,
       trades, wins, losses, max_intraday_drawdown, high_equity, low_equity
FROM aetheris_daily_pnl(%s, %s, %s)
"""


def daily_pnl(conn: Connection, account_id: str, first_day: date, last_day: date) -> list[DailyPnl]:
    """The account's daily roll-up from ``first_day`` to ``last_day`` (both included)."""
    rows = conn.execute(DAILY_PNL_QUERY, (account_id, first_day, last_day)).fetchall()
    return [DailyPnl(*row) for row in rows]


@dataclass(frozen=True)
class SyncLog:
    """One import or sync run, as the sync log keeps it."""

    source: str
    status: str  # running | success | partial | failed
    started_at: datetime
    finished_at: datetime | None = None
    account_id: str | None = None
    broker_connection_id: UUID | None = None
    trades_new: int = 0
    trades_updated: int = 0
    trades_duplicate: int = 0
    trades_error: int = 0
    ticks_stored: int = 0
    errors: Sequence[dict[str, Any]] = ()


def record_sync_log(conn: Connection, log: SyncLog) -> int:
    """Insert a sync log row; returns its id."""
    row = conn.execute(
        """
        INSERT INTO sync_logs (account_id, broker_connection_id, source, status, started_at,
                               finished_at, trades_new, trades_updated, trades_duplicate,
                               trades_error, ticks_stored, errors)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING id
        """,
        (
            log.account_id,
            log.broker_connection_id,
            log.source,
            log.status,
            log.started_at,
            log.finished_at,
            log.trades_new,
            log.trades_updated,
            log.trades_duplicate,
            log.trades_error,
            log.ticks_stored,
            Jsonb(list(log.errors)),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def sync_builtin_templates(conn: Connection) -> int:
    """Upsert the built-in rule templates (schemas/templates) into prop_firm_templates."""
    rulesets = builtin_rulesets()
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO prop_firm_templates AS p (name, firm, description, definition, builtin)
            VALUES (%s, %s, %s, %s, true)
            ON CONFLICT (name) DO UPDATE SET
                firm = EXCLUDED.firm,
                description = EXCLUDED.description,
                definition = EXCLUDED.definition,
                builtin = true
            WHERE (p.firm, p.description, p.definition, p.builtin)
                IS DISTINCT FROM (EXCLUDED.firm, EXCLUDED.description, EXCLUDED.definition, true)
            """,
            [
                (r.name, r.firm, r.description, Jsonb(r.model_dump(mode="json")))
                for r in rulesets.values()
            ],
        )
    return len(rulesets)
