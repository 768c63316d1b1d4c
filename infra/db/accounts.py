"""Accounts, trades and trading sessions as their owners see them, in PostgreSQL.

Every read and write takes the owner's id and filters on it in SQL, so another user's
account looks exactly like a missing one. Deleted accounts keep their rows (history);
they are only hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, get_args
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from schemas import AccountEvent, TradeEvent
from schemas.api import (
    AccountCreate,
    AccountRecord,
    AccountUpdate,
    Emotion,
    SessionView,
    TradeFilter,
    TradePage,
    TradeView,
    encode_cursor,
    trade_id,
)

Pool = ConnectionPool[psycopg.Connection[TupleRow]]

EMOTIONS: frozenset[str] = frozenset(get_args(Emotion))
_BIASES = frozenset({"OVERCONFIDENCE", "LOSS_AVERSION", "ANCHORING"})

_ACCOUNT_COLUMNS = (
    "account_id, name, ruleset, initial_balance, overrides, currency, broker, "
    "broker_account_id, status, created_at"
)


def _account(row: TupleRow) -> AccountRecord:
    return AccountRecord(
        id=row[0],
        name=row[1],
        ruleset=row[2],
        initial_balance=float(row[3]),
        overrides=row[4],
        currency=row[5],
        broker=row[6],
        broker_account_id=row[7],
        status=row[8],
        created_at=row[9],
    )


class PostgresAccounts:
    """:class:`api.ports.Accounts` over the ``accounts`` table."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def create(self, owner_id: UUID, account_id: str, body: AccountCreate) -> AccountRecord:
        """Store the new account as the owner's. The route publishes its account event
        first, so the pipeline's sink may already have stored the row (with no owner):
        then it becomes the owner's. The id is new and random, so an owned row with it
        is a bug, never another user's account to take."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO accounts AS a (account_id, owner_id, name, ruleset, "  # noqa: S608 - constant columns
                "initial_balance, overrides, currency, broker, broker_account_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (account_id) DO UPDATE SET owner_id = EXCLUDED.owner_id, "
                "name = EXCLUDED.name, ruleset = EXCLUDED.ruleset, "
                "initial_balance = EXCLUDED.initial_balance, overrides = EXCLUDED.overrides, "
                "currency = EXCLUDED.currency, broker = EXCLUDED.broker, "
                "broker_account_id = EXCLUDED.broker_account_id "
                "WHERE a.owner_id IS NULL AND a.deleted_at IS NULL "
                f"RETURNING {_ACCOUNT_COLUMNS}",
                (
                    account_id,
                    owner_id,
                    body.name,
                    body.ruleset,
                    body.initial_balance,
                    Jsonb(body.overrides or {}),
                    body.currency,
                    body.broker,
                    body.broker_account_id,
                ),
            ).fetchone()
        if row is None:
            raise RuntimeError(f"account id {account_id} is already taken")
        return _account(row)

    def claim(self, owner_id: UUID, events: Sequence[AccountEvent]) -> int:
        """Register accounts fed by a connector or the simulator as ``owner_id``'s.

        An account nobody owns yet becomes theirs; one owned by someone else is left
        alone. Returns how many accounts are now the owner's.
        """
        claimed = 0
        with self._pool.connection() as conn:
            for event in events:
                cur = conn.execute(
                    "INSERT INTO accounts AS a (account_id, owner_id, name, ruleset, "
                    "initial_balance, overrides, currency) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (account_id) DO UPDATE SET owner_id = EXCLUDED.owner_id, "
                    "deleted_at = NULL, status = 'active' "
                    "WHERE a.owner_id IS NULL OR a.owner_id = EXCLUDED.owner_id",
                    (
                        event.account_id,
                        owner_id,
                        event.name,
                        event.ruleset,
                        event.initial_balance,
                        Jsonb(event.overrides or {}),
                        event.currency,
                    ),
                )
                claimed += cur.rowcount
        return claimed

    def get(self, owner_id: UUID, account_id: str) -> AccountRecord | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts "  # noqa: S608 - constant columns
                "WHERE account_id = %s AND owner_id = %s AND deleted_at IS NULL",
                (account_id, owner_id),
            ).fetchone()
        return None if row is None else _account(row)

    def all(self, owner_id: UUID, limit: int) -> list[AccountRecord]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts "  # noqa: S608 - constant columns
                "WHERE owner_id = %s AND deleted_at IS NULL ORDER BY created_at, account_id "
                "LIMIT %s",
                (owner_id, limit),
            ).fetchall()
        return [_account(row) for row in rows]

    def update(
        self, owner_id: UUID, account_id: str, changes: AccountUpdate
    ) -> AccountRecord | None:
        fields = changes.model_dump(exclude_unset=True, exclude_none=True)
        if "overrides" in fields:
            fields["overrides"] = Jsonb(fields["overrides"])
        if not fields:
            return self.get(owner_id, account_id)
        # Column names come from the body model's own field names, never from input.
        assignments = ", ".join(f"{name} = %s" for name in fields)
        with self._pool.connection() as conn:
            row = conn.execute(
                f"UPDATE accounts SET {assignments} "  # noqa: S608 - names from the model
                "WHERE account_id = %s AND owner_id = %s AND deleted_at IS NULL "
                f"RETURNING {_ACCOUNT_COLUMNS}",
                (*fields.values(), account_id, owner_id),
            ).fetchone()
        return None if row is None else _account(row)

    def delete(self, owner_id: UUID, account_id: str) -> bool:
        """Hide the account and mark it closed; its ticks, trades and breaches stay."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE accounts SET deleted_at = now(), status = 'closed' "
                "WHERE account_id = %s AND owner_id = %s AND deleted_at IS NULL",
                (account_id, owner_id),
            )
            return cur.rowcount == 1

    def owned_ids(self, owner_id: UUID) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT account_id FROM accounts WHERE owner_id = %s AND deleted_at IS NULL",
                (owner_id,),
            ).fetchall()
        return [row[0] for row in rows]


# Trades ---------------------------------------------------------------------------------

_TRADE_COLUMNS = """
    t.account_id, t.broker_trade_id, t.status, t.symbol, t.side, t.quantity, t.entry_price,
    t.entry_time, t.exit_price, t.exit_time, t.pnl, t.commission, t.swap, t.stop_loss,
    t.take_profit, t.tags, t.notes, t.source,
    ARRAY(SELECT g.tag FROM trade_tags g WHERE g.account_id = t.account_id
          AND g.broker_trade_id = t.broker_trade_id AND g.category IN ('emotion', 'bias')
          ORDER BY g.tag)
"""
_OWNED = (
    "JOIN accounts a ON a.account_id = t.account_id AND a.owner_id = %s AND a.deleted_at IS NULL"
)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _trade(row: TupleRow) -> TradeView:
    return TradeView(
        id=trade_id(row[0], row[1]),
        account_id=row[0],
        broker_trade_id=row[1],
        status=row[2],
        symbol=row[3],
        side=row[4],
        quantity=float(row[5]),
        entry_price=float(row[6]),
        entry_time=row[7],
        exit_price=_number(row[8]),
        exit_time=row[9],
        pnl=_number(row[10]),
        commission=float(row[11]),
        swap=float(row[12]),
        stop_loss=_number(row[13]),
        take_profit=_number(row[14]),
        tags=list(row[15]),
        notes=row[16],
        manual=row[17] == "manual",
        emotions=[tag for tag in row[18] if tag in EMOTIONS],
    )


class PostgresTrades:
    """:class:`api.ports.Trades` over ``trades`` and ``trade_tags``, owner-filtered."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def page(
        self,
        owner_id: UUID,
        where: TradeFilter,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> TradePage:
        """Newest entry first; ``after`` is the last row of the previous page."""
        clauses = ["t.account_id = %s"]
        params: list[Any] = [owner_id, where.account_id]
        if where.status is not None:
            clauses.append("t.status = %s")
            params.append(where.status)
        if where.symbol is not None:
            clauses.append("t.symbol = %s")
            params.append(where.symbol)
        if where.tag is not None:
            clauses.append("%s = ANY(t.tags)")
            params.append(where.tag)
        if where.emotion is not None:
            clauses.append(
                "EXISTS (SELECT 1 FROM trade_tags g WHERE g.account_id = t.account_id "
                "AND g.broker_trade_id = t.broker_trade_id AND g.tag = %s)"
            )
            params.append(where.emotion)
        if where.since is not None:
            clauses.append("t.entry_time >= %s")
            params.append(where.since)
        if where.until is not None:
            clauses.append("t.entry_time < %s")
            params.append(where.until)
        if after is not None:
            clauses.append("(t.entry_time, t.broker_trade_id) < (%s, %s)")
            params.extend(after)
        params.append(limit + 1)
        query = (
            f"SELECT {_TRADE_COLUMNS} FROM trades t {_OWNED} "  # noqa: S608 - constant clauses
            f"WHERE {' AND '.join(clauses)} "
            "ORDER BY t.entry_time DESC, t.broker_trade_id DESC LIMIT %s"
        )
        with self._pool.connection() as conn:
            rows = conn.execute(query, params).fetchall()
        items = [_trade(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last[7], last[1])
        return TradePage(items=items, next_cursor=next_cursor)

    def get(self, owner_id: UUID, account_id: str, broker_trade_id: str) -> TradeView | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_TRADE_COLUMNS} FROM trades t {_OWNED} "  # noqa: S608 - constant columns
                "WHERE t.account_id = %s AND t.broker_trade_id = %s",
                (owner_id, account_id, broker_trade_id),
            ).fetchone()
        return None if row is None else _trade(row)

    def add_manual(
        self, owner_id: UUID, trade: TradeEvent, emotions: Sequence[Emotion]
    ) -> TradeView | None:
        """Store a hand-entered trade; ``None`` if the id is taken in that account."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                """
                INSERT INTO trades (account_id, broker_trade_id, status, symbol, side,
                    quantity, entry_price, entry_time, exit_price, exit_time, pnl, commission,
                    swap, stop_loss, take_profit, tags, notes, source)
                SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                       'manual'
                WHERE EXISTS (SELECT 1 FROM accounts WHERE account_id = %s AND owner_id = %s
                              AND deleted_at IS NULL)
                ON CONFLICT ON CONSTRAINT trades_broker_trade_key DO NOTHING
                """,
                (
                    trade.account_id,
                    trade.broker_trade_id,
                    trade.status,
                    trade.symbol,
                    trade.side,
                    trade.quantity,
                    trade.entry_price,
                    trade.entry_time,
                    trade.exit_price,
                    trade.exit_time,
                    trade.pnl,
                    trade.commission,
                    trade.swap,
                    trade.stop_loss,
                    trade.take_profit,
                    list(trade.tags),
                    trade.notes,
                    trade.account_id,
                    owner_id,
                ),
            )
            if cur.rowcount != 1:
                return None
            _set_emotions(conn, owner_id, trade.account_id, trade.broker_trade_id, emotions)
        return self.get(owner_id, trade.account_id, trade.broker_trade_id)

    def annotate(
        self,
        owner_id: UUID,
        account_id: str,
        broker_trade_id: str,
        *,
        notes: str | None,
        tags: Sequence[str] | None,
        emotions: Sequence[Emotion] | None,
    ) -> TradeView | None:
        """Change a trade's journal fields (``None`` keeps one as it is)."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE trades t SET notes = coalesce(%s, t.notes), "
                "tags = coalesce(%s, t.tags), updated_at = now() "
                "FROM accounts a WHERE a.account_id = t.account_id AND a.owner_id = %s "
                "AND a.deleted_at IS NULL AND t.account_id = %s AND t.broker_trade_id = %s",
                (
                    notes,
                    None if tags is None else sorted(set(tags)),
                    owner_id,
                    account_id,
                    broker_trade_id,
                ),
            )
            if cur.rowcount != 1:
                return None
            if emotions is not None:
                _set_emotions(conn, owner_id, account_id, broker_trade_id, emotions)
        return self.get(owner_id, account_id, broker_trade_id)

    def delete_manual(self, owner_id: UUID, account_id: str, broker_trade_id: str) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute(
                "DELETE FROM trades t USING accounts a WHERE a.account_id = t.account_id "
                "AND a.owner_id = %s AND a.deleted_at IS NULL AND t.account_id = %s "
                "AND t.broker_trade_id = %s AND t.source = 'manual'",
                (owner_id, account_id, broker_trade_id),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "DELETE FROM trade_tags WHERE account_id = %s AND broker_trade_id = %s",
                (account_id, broker_trade_id),
            )
            return True


def _set_emotions(
    conn: psycopg.Connection[TupleRow],
    owner_id: UUID,
    account_id: str,
    broker_trade_id: str,
    emotions: Sequence[Emotion],
) -> None:
    conn.execute(
        "DELETE FROM trade_tags WHERE account_id = %s AND broker_trade_id = %s "
        "AND category IN ('emotion', 'bias')",
        (account_id, broker_trade_id),
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO trade_tags (account_id, broker_trade_id, tag, category, created_by) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT ON CONSTRAINT trade_tags_key DO NOTHING",
            [
                (
                    account_id,
                    broker_trade_id,
                    tag,
                    "bias" if tag in _BIASES else "emotion",
                    owner_id,
                )
                for tag in sorted(set(emotions))
            ],
        )


# Trading sessions -----------------------------------------------------------------------

_SESSION_QUERY = """
SELECT s.id, s.account_id, s.started_at, s.ended_at,
       (SELECT count(*) FROM trades t WHERE t.account_id = s.account_id
          AND t.status = 'closed' AND t.exit_time >= s.started_at
          AND t.exit_time < coalesce(s.ended_at, 'infinity')),
       (SELECT coalesce(sum(t.pnl), 0) FROM trades t WHERE t.account_id = s.account_id
          AND t.status = 'closed' AND t.exit_time >= s.started_at
          AND t.exit_time < coalesce(s.ended_at, 'infinity')),
       s.tilt_flag OR EXISTS (SELECT 1 FROM breaches b WHERE b.account_id = s.account_id
          AND b.rule = 'tilt' AND b.ts >= s.started_at
          AND b.ts < coalesce(s.ended_at, 'infinity')),
       s.notes
FROM trading_sessions s
JOIN accounts a ON a.account_id = s.account_id AND a.owner_id = %s AND a.deleted_at IS NULL
"""


def _session(row: TupleRow) -> SessionView:
    return SessionView(
        id=row[0],
        account_id=row[1],
        started_at=row[2],
        ended_at=row[3],
        trade_count=row[4],
        pnl=float(row[5]),
        tilt=row[6],
        notes=row[7],
    )


class PostgresSessions:
    """:class:`api.ports.TradingSessions` over ``trading_sessions``; the counts are
    computed from the stored trades and breaches when read."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def start(self, owner_id: UUID, account_id: str, notes: str | None) -> SessionView | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO trading_sessions (account_id, user_id, started_at, notes) "
                "SELECT account_id, owner_id, now(), %s FROM accounts "
                "WHERE account_id = %s AND owner_id = %s AND deleted_at IS NULL RETURNING id",
                (notes, account_id, owner_id),
            ).fetchone()
        return None if row is None else self.get(owner_id, row[0])

    def end(self, owner_id: UUID, session_id: int) -> SessionView | None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE trading_sessions s SET ended_at = greatest(now(), s.started_at) "
                "FROM accounts a WHERE a.account_id = s.account_id AND a.owner_id = %s "
                "AND a.deleted_at IS NULL AND s.id = %s AND s.ended_at IS NULL",
                (owner_id, session_id),
            )
        return self.get(owner_id, session_id)

    def get(self, owner_id: UUID, session_id: int) -> SessionView | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                _SESSION_QUERY + " WHERE s.id = %s", (owner_id, session_id)
            ).fetchone()
        return None if row is None else _session(row)

    def for_account(self, owner_id: UUID, account_id: str, limit: int) -> list[SessionView]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                _SESSION_QUERY + " WHERE s.account_id = %s ORDER BY s.started_at DESC, s.id DESC "
                "LIMIT %s",
                (owner_id, account_id, limit),
            ).fetchall()
        return [_session(row) for row in rows]
