"""Stored alerts (breaches) as their owners see them: filtered pages, dismissal, and the
per-user e-mail opt-in, in PostgreSQL.

Every call takes the owner's id and joins ``accounts`` on it, so another user's breach
looks exactly like a missing one. Accounts the owner deleted are hidden with their alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from infra.db.pool import Pool


@dataclass(frozen=True)
class AlertQuery:
    """The filters of one page; ``after`` is the (ts, breach_id) of the previous page's
    last row (newest first)."""

    account_ids: Sequence[str] | None = None
    levels: Sequence[int] | None = None
    rules: Sequence[str] | None = None
    dismissed: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[datetime, str] | None = None
    limit: int = 100


@dataclass(frozen=True)
class AlertRow:
    breach_id: str
    account_id: str
    rule: str
    level: int
    ts: datetime
    value: float
    limit: float
    threshold: float | None
    message: str
    dismissed_at: datetime | None


_PAGE = """
SELECT b.breach_id, b.account_id, b.rule, b.level, b.ts, b.value, b.limit_value,
       b.threshold, b.message, b.dismissed_at
FROM breaches b
JOIN accounts a ON a.account_id = b.account_id
WHERE a.owner_id = %(owner)s AND a.deleted_at IS NULL
  AND (%(accounts)s::text[] IS NULL OR b.account_id = ANY (%(accounts)s::text[]))
  AND (%(levels)s::smallint[] IS NULL OR b.level = ANY (%(levels)s::smallint[]))
  AND (%(rules)s::text[] IS NULL OR b.rule = ANY (%(rules)s::text[]))
  AND (%(dismissed)s::boolean IS NULL OR (b.dismissed_at IS NOT NULL) = %(dismissed)s::boolean)
  AND (%(since)s::timestamptz IS NULL OR b.ts >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR b.ts < %(until)s::timestamptz)
  AND (%(after_ts)s::timestamptz IS NULL
       OR b.ts < %(after_ts)s::timestamptz
       OR (b.ts = %(after_ts)s::timestamptz AND b.breach_id > %(after_id)s::text))
ORDER BY b.ts DESC, b.breach_id
LIMIT %(limit)s
"""


class PostgresAlerts:
    """:class:`api.ports.Alerts` over the ``breaches``, ``accounts`` and ``users`` tables."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def page(self, owner_id: UUID, query: AlertQuery) -> list[AlertRow]:
        """Up to ``query.limit`` of the owner's alerts matching the filters, newest first."""
        after_ts, after_id = query.after if query.after is not None else (None, None)
        params = {
            "owner": owner_id,
            "accounts": None if query.account_ids is None else list(query.account_ids),
            "levels": None if query.levels is None else list(query.levels),
            "rules": None if query.rules is None else list(query.rules),
            "dismissed": query.dismissed,
            "since": query.since,
            "until": query.until,
            "after_ts": after_ts,
            "after_id": after_id,
            "limit": query.limit,
        }
        with self._pool.connection() as conn:
            rows = conn.execute(_PAGE, params).fetchall()
        return [AlertRow(*row) for row in rows]

    def dismiss(self, owner_id: UUID, breach_id: str, at: datetime) -> bool:
        """Dismiss the owner's alert (a second dismissal keeps the first time); False when
        the owner has no such alert."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                """
                UPDATE breaches b
                SET dismissed_at = coalesce(b.dismissed_at, %s),
                    dismissed_by = CASE WHEN b.dismissed_at IS NULL THEN %s ELSE b.dismissed_by END
                FROM accounts a
                WHERE b.breach_id = %s AND a.account_id = b.account_id
                  AND a.owner_id = %s AND a.deleted_at IS NULL
                """,
                (at, owner_id, breach_id, owner_id),
            )
            return cur.rowcount > 0

    def email_level3(self, owner_id: UUID) -> bool:
        """Whether the user opted in to e-mail for level-3 alerts."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT email_alerts FROM users WHERE id = %s", (owner_id,)
            ).fetchone()
        return bool(row is not None and row[0])

    def set_email_level3(self, owner_id: UUID, enabled: bool) -> None:
        with self._pool.connection() as conn:
            conn.execute("UPDATE users SET email_alerts = %s WHERE id = %s", (enabled, owner_id))
