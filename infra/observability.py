"""Process observability: the Prometheus metrics endpoint and structured JSON logs.

Every long-running ``aetheris`` process (pipeline, API, workers) calls
:func:`start_metrics_server` with ``AETHERIS_METRICS_PORT`` / ``AETHERIS_METRICS_HOST``
and :func:`configure_logging` with ``AETHERIS_LOG_FORMAT`` (docs/deploy.md).
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from threading import Thread
from typing import Literal
from wsgiref.simple_server import WSGIServer

import orjson
from prometheus_client import start_http_server

log = logging.getLogger("aetheris.metrics")

request_id_var: ContextVar[str | None] = ContextVar("aetheris_request_id", default=None)
account_id_var: ContextVar[str | None] = ContextVar("aetheris_account_id", default=None)

# LogRecord attributes that are not extra fields given by the caller.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class MetricsServer:
    """A running metrics endpoint: ``http://host:port/metrics`` in its own thread."""

    def __init__(self, server: WSGIServer, thread: Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(host: str, port: int | None) -> MetricsServer | None:
    """Serve this process's metrics on ``host:port`` (port 0: a free one); None: off."""
    if port is None:
        return None
    server, thread = start_http_server(port, addr=host)
    running = MetricsServer(server, thread)
    # Tests and operators read the bound port from this line (port 0 picks one).
    log.info("metrics on http://%s:%d/metrics", host, running.port)
    return running


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request and account ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        account_id = getattr(record, "account_id", None) or account_id_var.get()
        if account_id is not None:
            entry["account_id"] = str(account_id)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def dump_stacks_on_sigusr1() -> None:
    """``kill -USR1 PID`` prints every thread's stack to stderr: what a process that does
    not stop, or stops answering, is waiting on (no-op where the signal does not exist)."""
    usr1 = getattr(signal, "SIGUSR1", None)
    if usr1 is not None:
        faulthandler.register(usr1, file=sys.stderr, all_threads=True)


def configure_logging(log_format: Literal["text", "json"], level: int = logging.INFO) -> None:
    """The root logger writes to stderr as text (the default) or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


@contextmanager
def log_context(*, request_id: str | None = None, account_id: str | None = None) -> Iterator[None]:
    """Tag every log line written inside with these ids (JSON logs show them)."""
    tokens = []
    if request_id is not None:
        tokens.append((request_id_var, request_id_var.set(request_id)))
    if account_id is not None:
        tokens.append((account_id_var, account_id_var.set(account_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
