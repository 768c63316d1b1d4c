"""Users, login sessions, refresh tokens and TOTP state in PostgreSQL.

Every state change that two requests could race on (spending a refresh token, accepting
a TOTP time step, using a recovery code) is one conditional UPDATE, so the database
decides which request wins, across any number of API processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from uuid import UUID

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from schemas.api import RefreshOutcome, UserRecord

Pool = ConnectionPool[psycopg.Connection[TupleRow]]

_USER_COLUMNS = (
    "u.id, u.email, u.password_hash, u.totp_enabled, u.totp_secret_ciphertext, "
    "u.totp_last_step, u.is_active"
)


def _user(row: TupleRow | None) -> UserRecord | None:
    if row is None:
        return None
    return UserRecord(
        id=row[0],
        email=row[1],
        password_hash=row[2],
        totp_enabled=row[3],
        totp_secret_ciphertext=None if row[4] is None else bytes(row[4]),
        totp_last_step=row[5],
        is_active=row[6],
    )


class PostgresUsers:
    """:class:`api.ports.Users` over the ``users``, ``auth_sessions``, ``refresh_tokens``
    and ``recovery_codes`` tables."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    # Users ------------------------------------------------------------------------------

    def create(self, email: str, password_hash: str) -> UserRecord | None:
        """A new user, or ``None`` when the e-mail is taken (case-insensitively)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO users AS u (email, password_hash) VALUES (%s, %s) "  # noqa: S608 - constant columns
                f"ON CONFLICT (lower(email)) DO NOTHING RETURNING {_USER_COLUMNS}",
                (email, password_hash),
            ).fetchone()
        return _user(row)

    def by_email(self, email: str) -> UserRecord | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users u WHERE lower(u.email) = lower(%s)",  # noqa: S608 - constant columns
                (email,),
            ).fetchone()
        return _user(row)

    def by_id(self, user_id: UUID) -> UserRecord | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = %s",  # noqa: S608 - constant
                (user_id,),
            ).fetchone()
        return _user(row)

    def session_user(self, user_id: UUID, session_id: UUID) -> UserRecord | None:
        """The active user of a live (not revoked) session, else ``None``."""
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users u JOIN auth_sessions s ON s.user_id = u.id "  # noqa: S608 - constant columns
                "WHERE u.id = %s AND s.id = %s AND s.revoked_at IS NULL AND u.is_active",
                (user_id, session_id),
            ).fetchone()
        return _user(row)

    def set_password_hash(self, user_id: UUID, password_hash: str, *, changed: bool) -> None:
        """Store a new hash: a changed password (``changed``) or a rehash of the same one."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE users SET password_hash = %s, "
                "password_changed_at = CASE WHEN %s THEN now() ELSE password_changed_at END "
                "WHERE id = %s",
                (password_hash, changed, user_id),
            )

    # Sessions and refresh tokens -------------------------------------------------------

    def start_session(self, user_id: UUID, token_hash: bytes, lifetime: timedelta) -> UUID:
        """A new login session with its first refresh token."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO auth_sessions (user_id) VALUES (%s) RETURNING id", (user_id,)
            ).fetchone()
            assert row is not None
            session_id: UUID = row[0]
            conn.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) "
                "VALUES (%s, %s, now() + %s)",
                (token_hash, session_id, lifetime),
            )
        return session_id

    def rotate_refresh(
        self, token_hash: bytes, new_hash: bytes, lifetime: timedelta
    ) -> RefreshOutcome:
        """Spend a refresh token and issue its successor in the same session.

        A token already spent is a replay (RFC 9700 section 4.14.2): the whole session is
        revoked, so the thief's and the user's tokens stop working alike.
        """
        with self._pool.connection() as conn:
            spent = conn.execute(
                """
                UPDATE refresh_tokens r SET spent_at = now()
                FROM auth_sessions s JOIN users u ON u.id = s.user_id
                WHERE r.token_hash = %s AND r.session_id = s.id AND r.spent_at IS NULL
                  AND r.expires_at > now() AND s.revoked_at IS NULL AND u.is_active
                RETURNING s.user_id, s.id
                """,
                (token_hash,),
            ).fetchone()
            if spent is not None:
                conn.execute(
                    "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) "
                    "VALUES (%s, %s, now() + %s)",
                    (new_hash, spent[1], lifetime),
                )
                return RefreshOutcome(outcome="fresh", user_id=spent[0], session_id=spent[1])
            replayed = conn.execute(
                "SELECT session_id FROM refresh_tokens WHERE token_hash = %s "
                "AND spent_at IS NOT NULL",
                (token_hash,),
            ).fetchone()
            if replayed is None:
                return RefreshOutcome(outcome="invalid")
            conn.execute(
                "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'refresh reuse' "
                "WHERE id = %s AND revoked_at IS NULL",
                (replayed[0],),
            )
            return RefreshOutcome(outcome="reused", session_id=replayed[0])

    def revoke_session(self, session_id: UUID, reason: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = %s "
                "WHERE id = %s AND revoked_at IS NULL",
                (reason, session_id),
            )

    def revoke_all_sessions(self, user_id: UUID, reason: str) -> int:
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = %s "
                "WHERE user_id = %s AND revoked_at IS NULL",
                (reason, user_id),
            )
            return cur.rowcount

    # TOTP -------------------------------------------------------------------------------

    def set_pending_totp(self, user_id: UUID, ciphertext: bytes) -> bool:
        """Store a new, not yet confirmed secret; refused (False) while TOTP is on."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE users SET totp_secret_ciphertext = %s, totp_last_step = NULL "
                "WHERE id = %s AND NOT totp_enabled",
                (ciphertext, user_id),
            )
            return cur.rowcount == 1

    def accept_totp_step(self, user_id: UUID, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later step) was used already."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE users SET totp_last_step = %s WHERE id = %s "
                "AND (totp_last_step IS NULL OR totp_last_step < %s)",
                (step, user_id, step),
            )
            return cur.rowcount == 1

    def enable_totp(self, user_id: UUID, step: int, recovery_hashes: Sequence[bytes]) -> bool:
        """Turn TOTP on with its first accepted step and fresh recovery codes."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE users SET totp_enabled = true, totp_last_step = %s WHERE id = %s "
                "AND NOT totp_enabled AND totp_secret_ciphertext IS NOT NULL "
                "AND (totp_last_step IS NULL OR totp_last_step < %s)",
                (step, user_id, step),
            )
            if cur.rowcount != 1:
                conn.rollback()
                return False
            conn.execute("DELETE FROM recovery_codes WHERE user_id = %s", (user_id,))
            with conn.cursor() as insert:
                insert.executemany(
                    "INSERT INTO recovery_codes (user_id, code_hash) VALUES (%s, %s)",
                    [(user_id, code_hash) for code_hash in recovery_hashes],
                )
            return True

    def use_recovery_code(self, user_id: UUID, code_hash: bytes) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE recovery_codes SET used_at = now() "
                "WHERE user_id = %s AND code_hash = %s AND used_at IS NULL",
                (user_id, code_hash),
            )
            return cur.rowcount == 1

    def disable_totp(self, user_id: UUID) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE users SET totp_enabled = false, totp_secret_ciphertext = NULL, "
                "totp_last_step = NULL WHERE id = %s",
                (user_id,),
            )
            conn.execute("DELETE FROM recovery_codes WHERE user_id = %s", (user_id,))

    # Key rotation -----------------------------------------------------------------------

    def totp_ciphertexts(self) -> Iterator[tuple[UUID, bytes]]:
        """Every stored TOTP secret (pending or enabled), for re-encryption."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, totp_secret_ciphertext FROM users "
                "WHERE totp_secret_ciphertext IS NOT NULL ORDER BY id"
            ).fetchall()
        for user_id, ciphertext in rows:
            yield user_id, bytes(ciphertext)

    def replace_totp_ciphertext(self, user_id: UUID, old: bytes, new: bytes) -> bool:
        """Swap in the re-encrypted secret unless it changed meanwhile."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE users SET totp_secret_ciphertext = %s "
                "WHERE id = %s AND totp_secret_ciphertext = %s",
                (new, user_id, old),
            )
            return cur.rowcount == 1
