"""The webhook client's bounds against hostile receivers on 127.0.0.1: an endless answer is
cut after the size limit, a slow drip after the attempt's deadline (pytest-timeout would
catch a hang)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from infra.notify.http import WebhookHttpClient
from infra.notify.ssrf import check_url, parse_allowed_networks

LOCAL = parse_allowed_networks("127.0.0.0/8")


@dataclass
class Hostile:
    port: int = 0
    sent: int = 0
    stopped: threading.Event | None = None


@contextmanager
def hostile_server(chunk: bytes, pause: float) -> Iterator[Hostile]:
    """Answers 200 with a chunked body that never ends: ``chunk`` every ``pause`` seconds."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    state = Hostile(port=listener.getsockname()[1], stopped=threading.Event())

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)  # the request (small)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            try:
                while state.sent < 500_000_000:
                    conn.sendall(framed)
                    state.sent += len(chunk)
                    if pause:
                        time.sleep(pause)
            except OSError:
                pass  # the client hung up: what we want
        assert state.stopped is not None
        state.stopped.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        listener.close()


@pytest.mark.timeout(60)
def test_an_endless_answer_is_not_read_past_the_limit() -> None:
    client = WebhookHttpClient(timeout_seconds=30.0, max_response_bytes=65_536)
    try:
        with hostile_server(b"x" * 65_536, pause=0.0) as server:
            target = check_url(f"http://127.0.0.1:{server.port}/", _NoDns(), LOCAL)
            outcome = client.post(target, b"{}", {})
            assert server.stopped is not None
            assert server.stopped.wait(30)
    finally:
        client.close()
    assert (outcome.succeeded, outcome.status_code) == (True, 200)
    # the client stopped after 64 KiB; what the server managed to push is kernel buffers
    assert server.sent < 50_000_000


@pytest.mark.timeout(60)
def test_a_slow_drip_is_cut_at_the_attempts_deadline() -> None:
    client = WebhookHttpClient(timeout_seconds=1.0, max_response_bytes=10_000_000)
    try:
        with hostile_server(b"y", pause=0.05) as server:
            target = check_url(f"http://127.0.0.1:{server.port}/", _NoDns(), LOCAL)
            outcome = client.post(target, b"{}", {})
            assert server.stopped is not None
            assert server.stopped.wait(30)
    finally:
        client.close()
    assert outcome.status_code == 200
    # each chunk came well within the read timeout: only the overall deadline ended it
    assert server.sent < 10_000_000


class _NoDns:
    def resolve(self, host: str, port: int) -> list[str]:
        raise AssertionError("a literal address needs no lookup")
