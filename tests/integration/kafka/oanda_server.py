"""A local HTTP server answering in OANDA v20's shapes, for the REST connector's tests.

It keeps an account (balance, NAV, transactions, trades), pages ``transactions/sinceid``
two at a time, checks the bearer token, and plays scripted faults (a status with
headers, or a pause longer than the client's timeout) on the next requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE = 2


@dataclass
class Fault:
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    pause: float = 0.0  # seconds to sleep before answering normally
    drop: bool = False  # close the connection without an answer


class FakeOanda:
    def __init__(self, account_id: str, token: str) -> None:
        self.account_id = account_id
        self.token = token
        self.balance = "0.0000"
        self.nav = "0.0000"
        self.transactions: list[dict[str, Any]] = []
        self.trades: dict[str, dict[str, Any]] = {}
        self.faults: deque[Fault] = deque()
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def last_id(self) -> str:
        return self.transactions[-1]["id"] if self.transactions else "0"

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        base = f"/v3/accounts/{self.account_id}"
        if path == f"{base}/summary":
            return 200, {
                "account": {
                    "id": self.account_id,
                    "currency": "USD",
                    "balance": self.balance,
                    "NAV": self.nav,
                    "unrealizedPL": "0.0000",
                    "lastTransactionID": self.last_id,
                },
                "lastTransactionID": self.last_id,
            }
        if path == f"{base}/transactions/sinceid":
            since = int(query.get("id", ["0"])[0])
            newer = [t for t in self.transactions if int(t["id"]) > since][:PAGE]
            return 200, {"transactions": newer, "lastTransactionID": self.last_id}
        if path.startswith(f"{base}/trades/"):
            trade = self.trades.get(path.rsplit("/", 1)[1])
            if trade is None:
                return 404, {"errorMessage": "The Trade specified does not exist"}
            return 200, {"trade": trade, "lastTransactionID": self.last_id}
        return 404, {"errorMessage": "Invalid value specified for 'accountID'"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with fake._lock:
                    fake.requests.append(self.path)
                    fault = fake.faults.popleft() if fake.faults else None
                if fault is not None and fault.drop:
                    self.close_connection = True
                    return
                if fault is not None and fault.pause:
                    time.sleep(fault.pause)
                    fault = None
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    status, body = 401, {"errorMessage": "Insufficient authorization"}
                    headers: dict[str, str] = {}
                elif fault is not None:
                    status, body, headers = fault.status, {"errorMessage": "fault"}, fault.headers
                else:
                    with fake._lock:
                        status, body = fake.answer(parts.path, parse_qs(parts.query))
                    headers = {}
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        return Handler
