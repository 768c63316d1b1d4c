"""Browser tests: Playwright driving Debian's chromium (``/usr/bin/chromium``, installed by
``scripts/services.sh``; never ``playwright install``) against a real ``aetheris demo``
process on a scratch PostgreSQL database. Screenshots go to ``.aetheris/artifacts/``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from infra.db.scratch import scratch_database
from tests.e2e import conftest as e2e

admin_url = e2e.admin_url  # the PostgreSQL server, checked before the tests start

CHROMIUM = os.environ.get("AETHERIS_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".aetheris" / "artifacts"
LOGIN_LINE = re.compile(r"login: (?P<email>\S+) password: (?P<password>\S+)")


@dataclass(frozen=True)
class Demo:
    base: str
    email: str
    password: str
    totp: pyotp.TOTP


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_healthy(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the demo exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} did not answer its health check")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def demo(admin_url: str) -> Iterator[Demo]:
    """A demo whose user has TOTP switched on (enrolled and confirmed through the API)."""
    port = _free_port()
    with scratch_database(admin_url, prefix="aetheris_browser") as url:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aetheris.cli",
                "demo",
                "--port",
                str(port),
                "--accounts",
                "6",
                "--rate",
                "150",
            ],
            env={**os.environ, "DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            seen: list[str] = []
            found = None
            for line in process.stdout:
                seen.append(line)
                found = LOGIN_LINE.search(line)
                if found is not None:
                    break
            assert found is not None, "".join(seen)
            # Keep reading its output so that a full pipe never blocks the demo.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, process)
            with httpx.Client(base_url=base, timeout=10) as http:
                tokens = http.post(
                    "/api/v1/auth/login",
                    json={"email": found["email"], "password": found["password"]},
                ).json()
                auth = {"Authorization": f"Bearer {tokens['access_token']}"}
                secret = http.post("/api/v1/auth/totp/enrol", headers=auth).json()["secret"]
                totp = pyotp.TOTP(secret)
                confirmed = http.post(
                    "/api/v1/auth/totp/confirm", json={"code": totp.now()}, headers=auth
                )
                assert confirmed.status_code == 200, confirmed.text
            yield Demo(base, found["email"], found["password"], totp)
        finally:
            process.send_signal(signal.SIGINT)  # what a user's Ctrl-C sends
            process.wait(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"chromium is not at {CHROMIUM}; install it with `bash scripts/services.sh chromium`",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        yield _launch(playwright)


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
