"""Each long-running process serves its Prometheus metrics: real `aetheris api serve`,
`pipeline run`, `worker notify` and `worker sync` processes on PostgreSQL, Redis and
Kafka, with ``AETHERIS_METRICS_PORT=0`` (a free port, read from their JSON log), scraped
over HTTP; the names the dashboards and docs/deploy.md use are checked."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from schemas import AccountEvent, BalanceEvent, BreachEvent, event_json
from tests.integration.api.conftest import free_port

METRICS_LINE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Process:
    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._output = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aetheris.cli", *argv],
            env={**env, "AETHERIS_METRICS_PORT": "0", "AETHERIS_LOG_FORMAT": "json"},
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def metrics_url(self, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = METRICS_LINE.search(self.log.read_text())
            if found:
                return f"http://127.0.0.1:{found.group(1)}/metrics"
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no metrics endpoint announced: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._output.close()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(url: str) -> Samples:
    """Sample name → labels → value."""
    samples: Samples = {}
    text = httpx.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def wait_for(
    url: str, check: str, condition: Callable[[Samples], object], timeout: float = 60.0
) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        try:
            if condition(samples):
                return samples
        except KeyError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{check}: not seen in {sorted(samples)}")
        time.sleep(0.5)


def test_the_api_process_counts_requests_per_route_template(
    serve_env: dict[str, str], run: list[Process], tmp_path: Path
) -> None:
    port = free_port()
    api = Process(
        ["api", "serve", "--port", str(port), "--workers", "1"], serve_env, tmp_path / "api.log"
    )
    run.append(api)
    url = api.metrics_url()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, api.log.read_text()
        time.sleep(0.3)
    # Two account reads with different ids share one route label; an unknown path is
    # "unmatched", never its raw text (bounded label values).
    for account in ("11111111-1111-1111-1111-111111111111", "someone-elses-id"):
        assert httpx.get(f"{base}/api/v1/accounts/{account}").status_code == 401
    assert httpx.get(f"{base}/no/such/path/x9").status_code == 404
    answered = httpx.get(f"{base}/api/v1/health", headers={"X-Request-Id": "req-abc.1"})
    assert answered.headers["x-request-id"] == "req-abc.1"
    forged = httpx.get(f"{base}/api/v1/health", headers={"X-Request-Id": 'x" injected'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])

    samples = scrape(url)
    requests = samples["aetheris_api_requests_total"]
    account_route = (
        ("method", "GET"),
        ("route", "/api/v1/accounts/{account_id}"),
        ("status", "401"),
    )
    assert requests[account_route] == 2
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    assert requests[(("method", "GET"), ("route", "/api/v1/health"), ("status", "200"))] >= 3
    assert not any("someone-elses-id" in str(labels) for labels in requests)
    count = samples["aetheris_api_request_seconds_count"]
    assert count[(("method", "GET"), ("route", "/api/v1/accounts/{account_id}"))] == 2
    assert samples["aetheris_api_websocket_clients"][()] == 0
    assert samples["aetheris_api_realtime_clients"][()] == 0
    assert "aetheris_api_fanout_seconds_count" in samples
    # JSON logs: every line of the process's own logging is one JSON object.
    lines = [line for line in api.log.read_text().splitlines() if line.startswith("{")]
    assert any(orjson.loads(line)["message"].startswith("metrics on") for line in lines)


def test_the_pipeline_process_counts_events_breaches_lag_and_batches(
    serve_env: dict[str, str],
    kafka: KafkaBus,
    topics: Topics,
    run: list[Process],
    tmp_path: Path,
) -> None:
    publisher = kafka.publisher()
    lines = [
        event_json(
            AccountEvent(
                account_id="M1", ruleset="ftmo-2step", initial_balance=100_000.0, currency="USD"
            )
        ),
        event_json(BalanceEvent(account_id="M1", ts=START, balance=100_000.0, equity=100_000.0)),
        # 5,001 below the day's start: max_daily_loss at levels 1, 2 and 3.
        event_json(
            BalanceEvent(
                account_id="M1", ts=START + timedelta(hours=1), balance=100_000.0, equity=94_999.0
            )
        ),
    ]
    for line in lines:
        publisher.publish(topics.events, "M1", line.encode())
    publisher.publish(topics.events, "M1", b"not json")
    publisher.flush()
    env = {**serve_env, "AETHERIS_TOPIC_STATUS": topics.status or f"{topics.events}.status"}
    pipeline = Process(
        ["pipeline", "run", "--no-database", "--no-redis"], env, tmp_path / "pipeline.log"
    )
    run.append(pipeline)
    url = pipeline.metrics_url()
    samples = wait_for(
        url,
        "4 events in, lag read",
        lambda s: (
            s["aetheris_pipeline_events_in_total"][()] == 4 and s["aetheris_pipeline_consumer_lag"]
        ),
    )
    breaches = samples["aetheris_pipeline_breaches_total"]
    for level in ("1", "2", "3"):
        assert breaches[(("level", level), ("rule", "max_daily_loss"))] == 1
    assert samples["aetheris_pipeline_dead_letters_total"][()] == 1
    # 3 breaches + 1 status (locked) + 1 dead letter.
    assert samples["aetheris_pipeline_events_out_total"][()] == 5
    assert samples["aetheris_pipeline_batch_events_sum"][()] == 4
    assert samples["aetheris_pipeline_batch_seconds_count"][()] >= 1
    lag = samples["aetheris_pipeline_consumer_lag"]
    assert all(dict(labels)["partition"].isdigit() for labels in lag)
    assert {dict(labels)["topic"] for labels in lag} == {topics.events}
    assert all(value == 0 for value in lag.values()), lag
    assert "aetheris_pipeline_snapshot_seconds_count" in samples


def test_the_notify_worker_counts_what_it_reads_and_delivers(
    serve_env: dict[str, str],
    kafka: KafkaBus,
    topics: Topics,
    run: list[Process],
    tmp_path: Path,
) -> None:
    breach = BreachEvent(
        breach_id="metrics-test-1",
        account_id="N1",
        rule="max_daily_loss",
        level=3,
        ts=START,
        value=5_001.0,
        limit=5_000.0,
        message="daily loss 5,001 of 5,000",
    )
    publisher = kafka.publisher()
    publisher.publish(topics.breaches, "N1", event_json(breach).encode())
    publisher.publish(topics.breaches, "N1", b"{not a breach")
    publisher.flush()
    worker = Process(["worker", "notify", "--from-beginning"], serve_env, tmp_path / "notify.log")
    run.append(worker)
    url = worker.metrics_url()
    samples = wait_for(
        url,
        "one breach and one bad message read",
        lambda s: (
            s["aetheris_notify_breaches_read_total"][()] == 1
            and s["aetheris_notify_bad_messages_total"][()] == 1
        ),
    )
    # No webhook is registered for N1: nothing queued, nothing delivered yet; the
    # delivery families are declared (HELP/TYPE) before their first labelled sample.
    assert samples["aetheris_notify_queued_total"][(("channel", "webhook"),)] == 0
    text = httpx.get(url, timeout=5).text
    for name in ("deliveries", "retries", "failures"):
        assert f"# TYPE aetheris_notify_{name}_total counter" in text
    assert "# TYPE aetheris_notify_attempt_seconds histogram" in text


def test_the_sync_worker_serves_its_process_metrics(
    serve_env: dict[str, str], redis_prefix: str, run: list[Process], tmp_path: Path
) -> None:
    # Its own queue: the worker must not take other tests' jobs off the shared Redis.
    env = {**serve_env, "AETHERIS_SYNC_QUEUE": f"{redis_prefix}-sync"}
    worker = Process(["worker", "sync"], env, tmp_path / "sync.log")
    run.append(worker)
    samples = scrape(worker.metrics_url())
    assert samples["process_resident_memory_bytes"][()] > 0
    assert samples["process_cpu_seconds_total"][()] > 0
