"""The embedded default: with DATABASE_URL unset, PostgreSQL from the pgserver wheel starts
under the data folder, migrates, stores, and stops -- as root and as a normal user."""

from __future__ import annotations

import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from infra.db.database import open_database, resolve_database_url
from infra.db.embedded import running_embedded, start_embedded, stop_embedded
from infra.db.migrate import migrations_for
from infra.db.repositories import daily_pnl
from infra.db.sinks import PostgresSink
from infra.settings import Settings
from schemas.events import BalanceEvent

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="aetheris-embedded-"))
    yield folder / ".aetheris"
    stop_embedded(folder / ".aetheris")
    shutil.rmtree(folder, ignore_errors=True)


def test_without_database_url_the_embedded_server_is_used(data_dir: Path) -> None:
    settings = Settings(DATABASE_URL=None, AETHERIS_DATA_DIR=data_dir)

    url = resolve_database_url(settings)
    with open_database(settings) as database:
        sink = PostgresSink(database.pool)
        sink.write_ticks(
            [
                BalanceEvent(
                    account_id="A1",
                    ts=datetime(2026, 3, 2, 9, minute, tzinfo=UTC),
                    balance=100.0,
                    equity=100.0 - minute,
                )
                for minute in range(3)
            ]
        )
        with database.pool.connection() as conn:
            [day] = daily_pnl(conn, "A1", date(2026, 3, 2), date(2026, 3, 2))

    assert database.url == url
    assert database.backend == "postgresql"
    assert f"host={data_dir.resolve() / 'pgdata'}" in url
    assert day.max_intraday_drawdown == 2.0
    # A second process (here: a second start) reuses the running server.
    assert start_embedded(data_dir).url == url
    assert running_embedded(data_dir) is not None

    assert stop_embedded(data_dir) is True
    assert running_embedded(data_dir) is None
    assert stop_embedded(data_dir) is False


SCRIPT = """
from pathlib import Path
from infra.db.database import prepare_database
from infra.db.embedded import start_embedded, stop_embedded
server = start_embedded(Path(".aetheris"))
report = prepare_database(server.url)
print(report.backend, len(report.applied))
print(stop_embedded(Path(".aetheris")))
"""


def _as_nobody(home: Path) -> tuple[list[str], dict[str, str]]:
    """A command prefix and environment running this project's code as user ``nobody``.

    The virtualenv's interpreter may live where ``nobody`` cannot reach it (pyenv under
    /root); then the system's Python 3.11 runs with the virtualenv's packages.
    """
    nobody = pwd.getpwnam("nobody")
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    packages = ":".join([str(REPO), *site.getsitepackages()])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "PYTHONPATH": packages}
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    for python in (sys.executable, "/usr/bin/python3.11", "/usr/local/bin/python3.11"):
        probe = subprocess.run(
            [runuser, "-u", "nobody", "--", python, "-c", "import psycopg, pgserver"],
            env=env,
            cwd=home,
            capture_output=True,
            check=False,
            timeout=60,
        )
        if probe.returncode == 0:
            return [runuser, "-u", "nobody", "--", python], env
    pytest.fail(
        "no Python 3.11 interpreter here that user nobody may run (tried the virtualenv's "
        "and /usr/bin, /usr/local/bin python3.11): this test needs one",
        pytrace=False,
    )


def test_the_embedded_server_runs_for_a_normal_user() -> None:
    home = Path(tempfile.mkdtemp(prefix="aetheris-user-"))
    try:
        if os.geteuid() == 0:
            prefix, env = _as_nobody(home)
        else:
            prefix = [sys.executable]
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(home),
                "PYTHONPATH": str(REPO),
            }
        result = subprocess.run(
            [*prefix, "-c", SCRIPT],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)

    assert result.returncode == 0, result.stderr[-2000:]
    migrations = len(migrations_for("postgresql"))
    assert result.stdout.split() == ["postgresql", str(migrations), "True"]
