"""History from PostgreSQL: the daily roll-up view (stored alerts are served by
:class:`infra.db.alerts.PostgresAlerts`)."""

from __future__ import annotations

from datetime import timedelta

from psycopg_pool import ConnectionPool

from api.ports import DailyRow
from infra.db.repositories import daily_pnl


class DatabaseHistory:
    """:class:`api.ports.History` over ``daily_account_pnl``."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

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
