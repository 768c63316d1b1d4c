"""Embedded PostgreSQL from the ``pgserver`` wheel, the default when DATABASE_URL is unset.

The server lives in ``<data_dir>/pgdata``, listens on a Unix socket only, and keeps
running after the process that started it exits (``aetheris db stop`` stops it); the
next process reuses it. As root, pgserver runs PostgreSQL as a system user named
``pgserver`` (PostgreSQL refuses to run as root), creating it on first use.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psycopg
from psycopg import sql

from infra.db.errors import EmbeddedDatabaseError
from infra.db.pool import connect

EMBEDDED_DATABASE = "aetheris"
_SYSTEM_USER_AS_ROOT = "pgserver"


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: its data folder and the URL of the AETHERIS database."""

    pgdata: Path
    url: str


def _pgserver() -> ModuleType:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back
    # to /tmp/runtime-<uid>, which is fine for pgserver's lock file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # noqa: PLC0415 -- pulls in psutil and fasteners; only when used

    return pgserver


def pgdata_path(data_dir: Path) -> Path:
    """Where the embedded server keeps its files."""
    return data_dir.expanduser().resolve() / "pgdata"


def _ensure_database(admin_url: str, name: str) -> None:
    with connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            # Another process may create it first.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def start_embedded(data_dir: Path, *, database: str = EMBEDDED_DATABASE) -> EmbeddedServer:
    """Start (or reuse) the embedded server under ``data_dir`` and create ``database``."""
    pgdata = pgdata_path(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgserver = _pgserver()
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        admin_url: str = server.get_uri()
        url: str = server.get_uri(database)
    except Exception as exc:  # pgserver raises subprocess, OS and assertion errors
        raise EmbeddedDatabaseError(
            f"cannot start the embedded PostgreSQL in {pgdata}: {exc} "
            f"(its log: {pgdata / 'log'}); or set DATABASE_URL to use another server"
        ) from exc
    _ensure_database(admin_url, database)
    return EmbeddedServer(pgdata=pgdata, url=url)


def running_embedded(data_dir: Path, *, database: str = EMBEDDED_DATABASE) -> EmbeddedServer | None:
    """The embedded server under ``data_dir`` if it is running, without starting it."""
    pgdata = pgdata_path(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return None
    _pgserver()
    from pgserver.utils import PostmasterInfo  # noqa: PLC0415

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return EmbeddedServer(pgdata=pgdata, url=info.get_uri(database=database))


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server under ``data_dir``; False when it was not running."""
    server = running_embedded(data_dir)
    if server is None:
        return False
    from pgserver._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

    user = _SYSTEM_USER_AS_ROOT if os.geteuid() == 0 else None
    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.pgdata), "-w", "stop"]
    result = subprocess.run(  # noqa: S603 -- fixed argv, pgserver's own pg_ctl
        command, user=user, capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise EmbeddedDatabaseError(
            f"pg_ctl stop failed for {server.pgdata}: {result.stderr.strip()}"
        )
    return True
