"""A process's database: which server (configured or embedded), migrated, with a pool.

The one place that turns settings into a connection URL; processes call
:func:`open_database` in their bootstrap and hand the pool or the sink to the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from infra.db.embedded import start_embedded
from infra.db.migrate import Backend, MigrationReport, TimescaleMode, migrate
from infra.db.pool import Pool, connect, create_pool
from infra.db.repositories import sync_builtin_templates
from infra.settings import Settings, get_settings


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, else the embedded server under ``data_dir`` (started)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded(settings.data_dir).url


def prepare_database(url: str, *, timescale: TimescaleMode = "auto") -> MigrationReport:
    """Apply pending migrations and sync the built-in rule templates."""
    report = migrate(url, timescale=timescale)
    with connect(url) as conn:
        sync_builtin_templates(conn)
    return report


@dataclass
class Database:
    """An open, migrated database: its URL, backend and a connection pool."""

    url: str
    backend: Backend
    pool: Pool

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_database(settings: Settings | None = None, *, name: str = "aetheris") -> Database:
    """Resolve the URL (starting the embedded server if needed), migrate, open a pool."""
    settings = settings or get_settings()
    url = resolve_database_url(settings)
    report = prepare_database(url, timescale=settings.db_timescale)
    pool = create_pool(url, size=settings.db_pool_size, name=name, application_name=name)
    return Database(url=url, backend=report.backend, pool=pool)
