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
from pathlib import Path

import httpx
import pytest

from tests.integration.api.conftest import PASSWORD


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


def test_schemathesis_finds_no_failures_with_two_peers(server: str, tmp_path: Path) -> None:
    users = {
        name: _token(server, f"{name}-{tmp_path.name}@example.com") for name in ("alice", "bob")
    }
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
    config.write_text(f'[auth.wfc]\npath = "{auth}"\nuser = "alice"\npeers = ["alice", "bob"]\n')
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{server}/openapi.json",
            "--max-examples",
            "10",
            "--max-time",
            "100",
            "--exclude-path-regex",
            "^/api/v1/auth/(logout|password|totp/disable)$",
            "--exclude-checks",
            "positive_data_acceptance",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert "will not run" not in output  # the object-level check has its two peers
    assert done.returncode == 0, output[-6_000:]
    selected = re.search(r"Operations:\s+(\d+) selected", output)
    assert selected is not None and int(selected[1]) >= 20, output[:2_000]
