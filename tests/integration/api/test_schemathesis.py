"""Schemathesis over the OpenAPI document of a live `aetheris api serve`, with two users
configured as peers so its object-level authorization check runs: one user must never
read what the other created.

Excluded: routes that would end the fuzzer's own session (logout, password change, TOTP
off), and the ``positive_data_acceptance`` check, because some schema-valid input is
refused on purpose by rules a schema cannot state (a weak password, overrides a rule
template does not have, a wrong TOTP code, a cursor this API did not give out).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import uvicorn
from limits import parse

from api.app import create_app
from api.services import ApiLimits
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.db.accounts import PostgresAccounts
from infra.db.pool import Pool
from schemas.api import AccountRecord
from tests.integration.api.conftest import PASSWORD, build_api, free_port


@pytest.fixture
def serve_env(serve_env: dict[str, str]) -> dict[str, str]:
    """The fuzzer registers and logs in often: limits it will not reach."""
    return {
        **serve_env,
        "AETHERIS_RATE_LIMIT_LOGIN": "100000/minute",
        "AETHERIS_RATE_LIMIT_REGISTER": "100000/minute",
        "AETHERIS_RATE_LIMIT_TOTP": "100000/minute",
    }


def _token(base: str, email: str) -> str:
    with httpx.Client(base_url=f"{base}/api/v1", timeout=15) as http:
        registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token: str = login.json()["access_token"]
        return token


def _schemathesis(base: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the schemathesis CLI on ``base`` as alice with bob as her peer."""
    users = {name: _token(base, f"{name}-{tmp_path.name}@example.com") for name in ("alice", "bob")}
    auth = tmp_path / "auth.json"
    auth.write_text(
        json.dumps(
            {
                "auth": [
                    {
                        "name": name,
                        "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}],
                    }
                    for name, token in users.items()
                ]
            }
        )
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[auth.wfc]\npath = "{auth}"\nuser = "alice"\npeers = ["alice", "bob"]\n\n'
        # Schemathesis' own list of rejections for schema-violating input, plus 413: a
        # body over the cap is refused before it is read (documented on every route).
        "[checks.negative_data_rejection]\nexpected-statuses = "
        '["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]\n'
    )
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{base}/openapi.json",
            "--max-examples",
            "10",
            "--max-time",
            "100",
            "--exclude-path-regex",
            "^/api/v1/auth/(logout|password|totp/disable)$",
            "--no-color",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        cwd=tmp_path,
    )


def test_schemathesis_finds_no_failures_with_two_peers(server: str, tmp_path: Path) -> None:
    done = _schemathesis(server, tmp_path, "--exclude-checks", "positive_data_acceptance")
    output = done.stdout + done.stderr
    assert "will not run" not in output  # the object-level check has its two peers
    assert done.returncode == 0, output[-6_000:]
    selected = re.search(r"Operations:\s+(\d+) selected", output)
    assert selected is not None and int(selected[1]) >= 20, output[:2_000]


class LeakyAccounts(PostgresAccounts):
    """A planted bug for the negative control: reads an account whoever owns it."""

    def get(self, owner_id: UUID, account_id: str) -> AccountRecord | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT owner_id FROM accounts WHERE account_id = %s AND deleted_at IS NULL",
                (account_id,),
            ).fetchone()
        return None if row is None else super().get(row[0], account_id)


def test_the_object_level_check_catches_a_planted_owner_bug(
    pool: Pool,
    kafka: KafkaBus,
    topics: Topics,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    """The negative control: the same run against an app whose account read forgets the
    owner must report the bypass, or the check above proves nothing."""
    limits = ApiLimits(
        login=parse("100000/minute"), register=parse("100000/minute"), totp=parse("100000/minute")
    )
    api = build_api(pool, kafka, topics, redis_url, redis_prefix, limits=limits)
    api.services.accounts = LeakyAccounts(pool)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(api.services), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.1)
        done = _schemathesis(
            base, tmp_path, "--checks", "object_level_authorization", "--max-failures", "1"
        )
    finally:
        server.should_exit = True
        thread.join(30)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-4_000:]
    assert "Object-level authorization bypass" in output, output[-4_000:]
