"""`aetheris api serve` as a process manager sees it: SIGTERM stops it in bounded time even
with a request stuck in flight, and SIGUSR1 prints a worker's stacks without stopping
anything."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.integration.api.conftest import start_served, stop_served


def test_a_request_whose_body_never_ends_does_not_hold_up_the_shutdown(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "api-serve.log"
    env = {**serve_env, "AETHERIS_SHUTDOWN_SECONDS": "1"}
    with log.open("w") as output:
        process, base = start_served(env, output, log, workers=1)
        port = urlsplit(base).port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
            # A login whose body stops after 9 of its 100 bytes: the app waits for the rest.
            stalled.sendall(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                b'{"email":'
            )
            # Another request answered after it: the server has read the stalled one.
            assert httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200
            # Fails (with the stacks) unless it exits while the connection is still open.
            stop_served(process, log)
    assert "timeout graceful shutdown exceeded" in log.read_text()


def test_sigusr1_prints_each_workers_stacks_and_the_server_keeps_serving(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "api-serve.log"
    with log.open("w") as output:
        process, base = start_served(serve_env, output, log, workers=2)
        try:
            wait_for(lambda: worker_pids(log.read_text(), 2), "both workers")
            workers = worker_pids(log.read_text(), 2) or []
            # One process at a time, so that their dumps do not interleave in the log; each
            # adds its threads' stacks (a thread block header each).
            assert len(workers) == 2
            for pid in workers:
                before = log.read_text().count(STACK)
                os.kill(pid, signal.SIGUSR1)
                wait_for(lambda: log.read_text().count(STACK) > before, f"process {pid}'s stacks")  # noqa: B023 - called at once
                wait_for(lambda: settled(log), "the dump to end")
            assert "uvicorn" in log.read_text().split(STACK, 1)[1]  # stacks of the server
            assert httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200
        finally:
            stop_served(process, log)


STACK = "(most recent call first):"


def worker_pids(text: str, count: int) -> list[int] | None:
    """The worker processes' pids, once ``count`` of them have finished starting."""
    pids = [int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", text)]
    started = text.count("Application startup complete")
    return pids if len(pids) == count and started == count else None


def settled(log: Path) -> bool:
    """The log did not grow for a moment."""
    size = log.stat().st_size
    time.sleep(0.3)
    return log.stat().st_size == size


def wait_for(check: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout:g} s for {what}")
