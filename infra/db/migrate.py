"""Versioned SQL migrations: plain files applied in order and recorded in a table.

Files live in ``infra/db/migrations/`` as ``NNNN_name.sql`` (both backends) or as a pair
``NNNN_name.postgresql.sql`` / ``NNNN_name.timescaledb.sql`` (one per backend). The
backend is chosen when the first migration runs -- TimescaleDB when the database has
the extension or the server offers it -- and then sticks to the database. Each file
runs in its own transaction together with its row in ``schema_migrations``; an
advisory lock keeps two processes from migrating at once. Re-running applies nothing
and checks that no applied file was changed since.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Literal

import psycopg
from psycopg.rows import TupleRow

from infra.db.errors import MigrationError
from infra.db.pool import connect

Backend = Literal["postgresql", "timescaledb"]
TimescaleMode = Literal["auto", "require", "off"]
BACKENDS: tuple[Backend, ...] = ("postgresql", "timescaledb")

# pg_advisory_lock key of the migration runner ("AETHMIGR" as a 64-bit integer).
MIGRATION_LOCK_KEY = 0x41455448_4D494752

_FILE_NAME = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<backend>postgresql|timescaledb))?\.sql$"
)
_log = logging.getLogger("aetheris.db")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    backend text NOT NULL CHECK (backend IN ('postgresql', 'timescaledb')),
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    backend: Backend | None  # None: the same file for both backends
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    backend: Backend
    checksum: str
    applied_at: datetime


@dataclass(frozen=True)
class MigrationReport:
    """What ``migrate`` did: the backend, the files it applied, the versions already there."""

    backend: Backend
    applied: tuple[Migration, ...]
    already_applied: tuple[int, ...]
    note: str | None = None  # why TimescaleDB was not used when the server has it


def migration_files() -> list[Migration]:
    """Every migration file shipped in the package, by version then backend."""
    folder = resources.files("infra.db") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"migration file {entry.name!r}: name must look like 0003_add_things.sql "
                "or 0003_add_things.postgresql.sql / .timescaledb.sql"
            )
        backend_name = match["backend"]
        backend: Backend | None = None
        if backend_name == "postgresql":
            backend = "postgresql"
        elif backend_name == "timescaledb":
            backend = "timescaledb"
        found.append(
            Migration(
                version=int(match["version"]),
                name=match["name"],
                backend=backend,
                filename=entry.name,
                sql=entry.read_text("utf-8"),
            )
        )
    found.sort(key=lambda m: (m.version, m.backend or ""))
    return found


def migrations_for(backend: Backend) -> list[Migration]:
    """The ordered migrations one backend runs: one file per version.

    A version is either one shared file or exactly one file per backend.
    """
    by_version: dict[int, list[Migration]] = {}
    for migration in migration_files():
        by_version.setdefault(migration.version, []).append(migration)
    chosen: list[Migration] = []
    for version in sorted(by_version):
        files = by_version[version]
        shared = [m for m in files if m.backend is None]
        variants = {m.backend: m for m in files if m.backend is not None}
        names = ", ".join(m.filename for m in files)
        if shared and (len(shared) > 1 or variants):
            raise MigrationError(f"migration {version:04d}: more than one file ({names})")
        if shared:
            chosen.append(shared[0])
            continue
        if set(variants) != set(BACKENDS) or len(files) != len(BACKENDS):
            raise MigrationError(
                f"migration {version:04d}: a per-backend migration needs exactly one "
                f".postgresql.sql and one .timescaledb.sql file (found {names})"
            )
        chosen.append(variants[backend])
    return chosen


def _recorded_backend(conn: psycopg.Connection[TupleRow]) -> Backend | None:
    rows = conn.execute("SELECT DISTINCT backend FROM schema_migrations").fetchall()
    if not rows:
        return None
    if len(rows) > 1:
        raise MigrationError("schema_migrations records more than one backend; fix by hand")
    recorded = rows[0][0]
    if recorded == "timescaledb":
        return "timescaledb"
    if recorded == "postgresql":
        return "postgresql"
    raise MigrationError(f"schema_migrations records an unknown backend {recorded!r}")


def timescale_installed(conn: psycopg.Connection[TupleRow]) -> bool:
    """Whether the timescaledb extension is created in this database."""
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def timescale_available(conn: psycopg.Connection[TupleRow]) -> bool:
    """Whether the server offers the timescaledb extension (installed or not)."""
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def timescale_preloaded(conn: psycopg.Connection[TupleRow]) -> bool:
    """Whether this server has the timescaledb library loaded (``shared_preload_libraries``).

    The library registers its ``timescaledb.*`` settings when it is preloaded; without
    that, ``CREATE EXTENSION timescaledb`` ends the session with a FATAL error.
    """
    row = conn.execute(
        "SELECT 1 FROM pg_settings WHERE name LIKE 'timescaledb.%' LIMIT 1"
    ).fetchone()
    return row is not None


def _preload_setting(conn: psycopg.Connection[TupleRow]) -> str:
    try:
        row = conn.execute("SELECT current_setting('shared_preload_libraries', true)").fetchone()
    except psycopg.Error:
        return "unknown"
    return "unset" if row is None or not row[0] else repr(row[0])


def not_preloaded_reason(conn: psycopg.Connection[TupleRow]) -> str:
    """Why TimescaleDB is not used on a server that offers it but does not preload it."""
    return (
        "the server offers the timescaledb extension but does not preload its library "
        f"(shared_preload_libraries is {_preload_setting(conn)}); to use TimescaleDB add "
        "'timescaledb' to shared_preload_libraries in the server's postgresql.conf and "
        "restart the server (docs/storage.md)"
    )


def _choose_backend(
    conn: psycopg.Connection[TupleRow], mode: TimescaleMode
) -> tuple[Backend, str | None]:
    """The backend to migrate with, and why not TimescaleDB when the server has it.

    A database keeps the backend it was first migrated with. A fresh one gets
    TimescaleDB when the extension is there or can be created -- the server offers it
    and preloads its library -- (unless ``mode`` is ``off``); ``auto`` otherwise goes on
    with plain PostgreSQL and logs why, ``require`` fails with the same explanation.
    """
    recorded = _recorded_backend(conn)
    if recorded is not None:
        if mode == "require" and recorded != "timescaledb":
            raise MigrationError(
                "AETHERIS_DB_TIMESCALE=require, but this database was migrated for plain "
                "PostgreSQL; migrate a new database instead"
            )
        if mode == "off" and recorded != "postgresql":
            raise MigrationError(
                "AETHERIS_DB_TIMESCALE=off, but this database was migrated for TimescaleDB"
            )
        if recorded == "timescaledb" and not timescale_installed(conn):
            raise MigrationError(
                "this database was migrated for TimescaleDB, but the timescaledb extension is gone"
            )
        return recorded, None
    if mode == "off":
        return "postgresql", None
    if timescale_installed(conn) and timescale_preloaded(conn):
        return "timescaledb", None
    if not timescale_available(conn):
        if mode == "require":
            raise MigrationError(
                "AETHERIS_DB_TIMESCALE=require, but the server does not offer the timescaledb "
                "extension; install TimescaleDB for this PostgreSQL (docs/storage.md)"
            )
        return "postgresql", None
    if not timescale_preloaded(conn):
        reason = not_preloaded_reason(conn)
        if mode == "require":
            raise MigrationError(f"AETHERIS_DB_TIMESCALE=require, but {reason}")
        _log.warning("using plain PostgreSQL: %s", reason)
        return "postgresql", f"using plain PostgreSQL: {reason}"
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        if mode == "require":
            raise MigrationError(f"cannot create the timescaledb extension: {exc}") from exc
        note = f"using plain PostgreSQL: cannot create the timescaledb extension ({exc})"
        _log.warning("%s", note)
        return "postgresql", note
    return "timescaledb", None


def applied_migrations(conn: psycopg.Connection[TupleRow]) -> list[AppliedMigration]:
    """The rows of ``schema_migrations`` (empty when the table does not exist yet)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if exists is None or not exists[0]:
        return []
    rows = conn.execute(
        "SELECT version, name, backend, checksum, applied_at FROM schema_migrations "
        "ORDER BY version"
    ).fetchall()
    return [
        AppliedMigration(
            version=row[0],
            name=row[1],
            backend="timescaledb" if row[2] == "timescaledb" else "postgresql",
            checksum=row[3],
            applied_at=row[4],
        )
        for row in rows
    ]


def _check_unchanged(applied: list[AppliedMigration], wanted: list[Migration]) -> None:
    files = {m.version: m for m in wanted}
    for row in applied:
        migration = files.get(row.version)
        if migration is None:
            raise MigrationError(
                f"migration {row.version:04d}_{row.name} is applied but no longer shipped; "
                "this database is newer than this code"
            )
        if migration.checksum != row.checksum:
            raise MigrationError(
                f"migration {migration.filename} changed after it was applied "
                f"(checksum {row.checksum[:12]} in the database, {migration.checksum[:12]} "
                "in the file); add a new migration instead of editing an applied one"
            )


def migrate_connection(
    conn: psycopg.Connection[TupleRow], *, timescale: TimescaleMode = "auto"
) -> MigrationReport:
    """Apply the pending migrations over ``conn`` (which must be in autocommit mode)."""
    if not conn.autocommit:
        raise MigrationError("migrate needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        conn.execute(_CREATE_LEDGER)
        backend, note = _choose_backend(conn, timescale)
        wanted = migrations_for(backend)
        applied = applied_migrations(conn)
        _check_unchanged(applied, wanted)
        done = {row.version for row in applied}
        newly: list[Migration] = []
        for migration in wanted:
            if migration.version in done:
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode("utf-8"))
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, backend, checksum) "
                        "VALUES (%s, %s, %s, %s)",
                        (migration.version, migration.name, backend, migration.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"migration {migration.filename} failed: {exc}") from exc
            _log.info("applied migration %s", migration.filename)
            newly.append(migration)
        return MigrationReport(
            backend=backend,
            applied=tuple(newly),
            already_applied=tuple(sorted(done)),
            note=note,
        )
    finally:
        if not conn.broken:  # a lost connection has released the lock already
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def migrate(url: str, *, timescale: TimescaleMode = "auto") -> MigrationReport:
    """Connect to ``url`` and apply the pending migrations."""
    with connect(url, autocommit=True, application_name="aetheris-migrate") as conn:
        return migrate_connection(conn, timescale=timescale)


def database_backend(conn: psycopg.Connection[TupleRow]) -> Backend | None:
    """The backend this database was migrated for, or None before the first migration."""
    applied = applied_migrations(conn)
    return applied[0].backend if applied else None
