"""History from PostgreSQL: stored breaches and the daily roll-up view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from psycopg_pool import ConnectionPool

from api.ports import DailyRow, StoredAlert
from infra.db.repositories import daily_pnl, list_breaches_of
from schemas import BreachEvent


class DatabaseHistory:
    """:class:`api.ports.History` over the ``breaches`` table and ``daily_account_pnl``."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def alerts(self, account_ids: Sequence[str], limit: int) -> list[StoredAlert]:
        """The newest breaches of these accounts."""
        with self._pool.connection() as conn:
            rows = list_breaches_of(conn, account_ids, limit=limit)
        return [
            StoredAlert(
                breach=BreachEvent(
                    breach_id=row.breach_id,
                    account_id=row.account_id,
                    rule=row.rule,  # type: ignore[arg-type]
                    level=row.level,  # type: ignore[arg-type]
                    ts=row.ts,
                    value=float(row.value),
                    limit=float(row.limit),
                    threshold=None if row.threshold is None else float(row.threshold),
                    message=row.message,
                ),
                dismissed=row.dismissed_at is not None,
            )
            for row in rows
        ]

    def daily(self, account_id: str, days: int) -> list[DailyRow]:
        """The last ``days`` days of the account's roll-up, ending at its latest day."""
        with self._pool.connection() as conn:
            latest = conn.execute(
                "SELECT max(day) FROM daily_account_pnl WHERE account_id = %s", (account_id,)
            ).fetchone()
            if latest is None or latest[0] is None:
                return []
            rows = daily_pnl(conn, account_id, latest[0] - timedelta(days=days - 1), latest[0])
        return [
            DailyRow(
                day=row.day,
                net_pnl=float(row.net_pnl),
                trades=row.trades,
                wins=row.wins,
                losses=row.losses,
                end_balance=row.end_balance,
                max_intraday_drawdown=row.max_intraday_drawdown,
            )
            for row in rows
        ]
