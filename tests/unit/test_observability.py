"""The metrics endpoint (a real HTTP server on a free port) and the JSON log format."""

from __future__ import annotations

import io
import logging
import sys
import urllib.request

import orjson
import pytest
from prometheus_client import Counter

from infra.observability import (
    JsonFormatter,
    configure_logging,
    log_context,
    start_metrics_server,
)
from infra.settings import Settings

PROBE = Counter("aetheris_test_probe", "A counter only this test increments.")


def test_no_port_no_endpoint() -> None:
    assert start_metrics_server("127.0.0.1", None) is None


def test_the_endpoint_serves_this_process_metrics() -> None:
    server = start_metrics_server("127.0.0.1", 0)
    assert server is not None
    try:
        PROBE.inc(3)
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
        assert server.port > 0
        assert "aetheris_test_probe_total 3.0" in body
        assert "process_cpu_seconds_total" in body or "python_gc_objects_collected" in body
    finally:
        server.close()


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("aetheris.x", logging.WARNING, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_json_lines_carry_request_and_account_ids() -> None:
    formatter = JsonFormatter()
    plain = orjson.loads(formatter.format(record("hello")))
    assert plain["message"] == "hello" and plain["level"] == "WARNING"
    assert plain["logger"] == "aetheris.x" and plain["time"].endswith("+00:00")
    assert "request_id" not in plain and "account_id" not in plain
    with log_context(request_id="req-1", account_id="ACC-9"):
        tagged = orjson.loads(formatter.format(record("inside")))
    assert (tagged["request_id"], tagged["account_id"]) == ("req-1", "ACC-9")
    after = orjson.loads(formatter.format(record("after")))
    assert "request_id" not in after, "the context ends with the block"
    explicit = orjson.loads(formatter.format(record("x", account_id="A2", delivery=7)))
    assert explicit["account_id"] == "A2" and explicit["delivery"] == 7


def test_json_log_of_an_exception_is_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        line = JsonFormatter().format(
            logging.LogRecord("a", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
        )
    assert "\n" not in line
    assert "ValueError: boom" in orjson.loads(line)["exception"]


def test_configure_logging_switches_the_root_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    try:
        configure_logging("json")
        logging.getLogger("aetheris.test").info("started %d", 2)
        assert orjson.loads(stream.getvalue().splitlines()[-1])["message"] == "started 2"
        configure_logging("text")
        logging.getLogger("aetheris.test").info("plain")
        assert stream.getvalue().splitlines()[-1].endswith("aetheris.test plain")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_settings_validate_the_observability_knobs() -> None:
    good = Settings.model_validate({"AETHERIS_METRICS_PORT": "9464", "AETHERIS_LOG_FORMAT": "json"})
    assert (good.metrics_port, good.log_format, good.metrics_host) == (9464, "json", "127.0.0.1")
    with pytest.raises(ValueError, match="AETHERIS_LOG_FORMAT"):
        Settings.model_validate({"AETHERIS_LOG_FORMAT": "xml"})
    with pytest.raises(ValueError, match="AETHERIS_METRICS_PORT"):
        Settings.model_validate({"AETHERIS_METRICS_PORT": "70000"})
