"""`aetheris demo` end to end: simulator → in-process bus → Armor dataflow → PostgreSQL →
API and WebSocket, as a user runs it (a real process, a real database, real HTTP)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from websockets.sync.client import connect

from infra.db.embedded import running_embedded, stop_embedded
from infra.db.scratch import scratch_database
from tests.integration.notify_support import webhook_receiver

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


LOGIN_LINE = re.compile(r"login: (?P<email>\S+) password: (?P<password>\S+)")


def _login_line(process: subprocess.Popen[str], seen: list[str]) -> re.Match[str]:
    """Read the demo's output until its ``login: EMAIL password: PASSWORD`` line."""
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        found = LOGIN_LINE.search(line)
        if found is not None:
            return found
    raise AssertionError(f"the demo printed no login line: {''.join(seen)}")


def _poll(url: str, ready: Any, timeout: float = 60.0, headers: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=2.0, headers=headers).json()
            if ready(last):
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not become ready; last answer: {last!r}")


@pytest.fixture
def demo(admin_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    with scratch_database(admin_url, prefix="aetheris_demo") as url:
        # The test's webhook receiver listens on 127.0.0.1, which the SSRF guard refuses
        # unless its network is allowed.
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "AETHERIS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aetheris.cli",
                "demo",
                "--port",
                str(port),
                "--accounts",
                "16",
                "--rate",
                "300",
                "--duration",
                "40",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield f"127.0.0.1:{port}", process
        finally:
            process.terminate()
            process.wait(30)


def test_the_demo_serves_live_accounts_alerts_and_a_breach_feed(
    demo: tuple[str, subprocess.Popen[str]],
) -> None:
    address, process = demo
    seen: list[str] = []
    login = _login_line(process, seen)
    assert httpx.get(f"http://{address}/api/v1/accounts", timeout=5).status_code == 401
    tokens = (
        _poll(f"http://{address}/api/v1/health", lambda found: found == {"status": "ok"})
        and httpx.post(
            f"http://{address}/api/v1/auth/login",
            json={"email": login["email"], "password": login["password"]},
            timeout=10,
        ).json()
    )
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    accounts = _poll(
        f"http://{address}/api/v1/accounts",
        lambda found: len(found) == 16 and all(a["standing"] for a in found),
        headers=auth,
    )
    assert {a["id"] for a in accounts} == {f"SIM{i:05d}" for i in range(16)}
    assert all(a["standing"]["rules"] for a in accounts)

    alerts = _poll(
        f"http://{address}/api/v1/alerts?limit=500",
        lambda found: bool(found.get("items")),
        headers=auth,
    )["items"]
    stored = {a["breach"]["breach_id"] for a in alerts}
    assert all(a["breach"]["account_id"].startswith("SIM") for a in alerts)

    # The live stream on the in-process twin: the same protocol as on Redis.
    live_ticket = httpx.post(
        f"http://{address}/api/v1/realtime/ticket", headers=auth, timeout=10
    ).json()["ticket"]
    with connect(f"ws://{address}/ws/realtime", open_timeout=10) as websocket:
        websocket.send(json.dumps({"type": "auth", "ticket": live_ticket}))
        first = json.loads(websocket.recv(timeout=30))
        kinds = set()
        message = first
        while message["kind"] != "breach":
            kinds.add(message["kind"])
            message = json.loads(websocket.recv(timeout=30))
    assert first["kind"] == "snapshot" and first["account_id"].startswith("SIM")
    assert message["breach"]["level"] in (1, 2, 3)

    page = httpx.get(f"http://{address}/", timeout=5)
    assert "AETHERIS" in page.text

    # The in-process notify worker delivers a signed test ping to a registered webhook.
    with webhook_receiver() as receiver:
        hook = httpx.post(
            f"http://{address}/api/v1/webhooks",
            json={"url": receiver.url},
            headers=auth,
            timeout=10,
        )
        assert hook.status_code == 201, hook.text
        ping = httpx.post(
            f"http://{address}/api/v1/webhooks/{hook.json()['id']}/ping", headers=auth, timeout=10
        )
        assert ping.status_code == 202, ping.text
        deadline = time.monotonic() + 20
        pings: list[Any] = []
        while time.monotonic() < deadline and not pings:
            pings = [
                r
                for r in receiver.successes()
                if r.headers["webhook-id"] == ping.json()["webhook_id"]
            ]
            time.sleep(0.2)
        assert len(pings) == 1, receiver.requests
        body = Webhook(hook.json()["secret"]).verify(pings[0].body, pings[0].headers)
        assert body["type"] == "ping"

    output, _ = process.communicate(timeout=90)
    output = "".join(seen) + output
    assert process.returncode == 0, output
    assert "dashboard on http://" in output
    # Everything the API showed came from the database the pipeline wrote.
    assert stored


def _run_demo(data_dir: Path, *extra: str) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AETHERIS_", "KAFKA_", "DATABASE_URL"))
    }
    env["AETHERIS_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aetheris.cli",
            "demo",
            "--port",
            str(_free_port()),
            "--accounts",
            "4",
            "--duration",
            "2",
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def own_data_dir() -> Iterator[Path]:
    """A data dir outside pytest's base temp: that one is private to root (0700, and every
    pytest session resets it), but the embedded server runs as its own system user."""
    parent = Path(tempfile.mkdtemp(prefix="aetheris-demo-"))
    parent.chmod(0o755)
    yield parent / ".aetheris"
    shutil.rmtree(parent, ignore_errors=True)


def test_the_demo_stops_the_embedded_server_it_started_and_only_that(own_data_dir: Path) -> None:
    data_dir = own_data_dir
    try:
        output = _run_demo(data_dir)
        assert "stopped the embedded PostgreSQL" in output
        assert running_embedded(data_dir) is None

        output = _run_demo(data_dir, "--keep-database")
        assert "keeps running" in output
        assert running_embedded(data_dir) is not None

        # Already running when the demo starts: someone else's, left running.
        output = _run_demo(data_dir)
        assert "stopped the embedded PostgreSQL" not in output
        assert running_embedded(data_dir) is not None
    finally:
        stop_embedded(data_dir)
