"""`aetheris pipeline run` with REDIS_URL: through the real Kafka and the real Redis, a tick
that reaches a level 3 produces the account's standing key, and the breaches, the status
change and the standing on its channel; the status change is on the status topic."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import redis

from connectors.simulator import SimulatedDesk, run_feed
from infra.bus import END, EventPublisher, Topics
from infra.bus.kafka import KafkaBus
from infra.live import account_channel, standing_key
from schemas import StatusEvent, event_json
from schemas.state import AccountSnapshot
from tests.integration.live.fixtures import redis_client, redis_prefix, redis_url
from tests.integration.live.test_redis_live import listen, received
from tests.unit.pipelines.streams import START, account, balance

from .conftest import PARTITIONS
from .support import aetheris, publish, read_topic

__all__ = ["redis_client", "redis_prefix", "redis_url"]  # fixtures used here


def test_a_level_3_tick_reaches_redis_as_standing_breaches_and_status(
    kafka: KafkaBus,
    topics: Topics,
    kafka_env: dict[str, str],
    redis_url: str,
    redis_client: redis.Redis[bytes],
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    accounts = [f"L{number}" for number in range(6)]
    pubsub = listen(redis_client, *(account_channel(redis_prefix, a) for a in accounts))
    lines = [account(a, ruleset="ftmo-2step") for a in accounts]
    lines += [balance(a, START, 99_000.0) for a in accounts]
    lines.append(balance("L0", START, 94_000.0))  # 6,000 of the 5,000 daily: level 3
    publish(kafka.publisher(), topics.events, lines)

    env = {**kafka_env, "REDIS_URL": redis_url, "AETHERIS_REDIS_PREFIX": redis_prefix}
    log = tmp_path / "pipeline.log"
    # Two workers: each publishes the standings of the accounts it holds.
    process = aetheris(["pipeline", "run", "-w", "2", "--until-end", "--no-database"], env, log)
    try:
        assert process.wait(120) == 0, log.read_text()
        # Every account's standing, plus L0's three breaches and its lock, at least.
        messages = received(pubsub, len(accounts) + 4, timeout=20)
        time.sleep(0.3)
        messages += received(pubsub, 100, timeout=0.5)  # anything more that came
    finally:
        pubsub.close()
        if process.poll() is None:
            process.kill()
            process.wait(30)

    l0 = [m for channel, m in messages if channel == account_channel(redis_prefix, "L0")]
    kinds = [m["kind"] for m in l0]
    events = [
        (m["breach"]["rule"], m["breach"]["level"])
        if m["kind"] == "breach"
        else m["status"]["status"]
        for m in l0
        if m["kind"] != "state"
    ]
    assert events == [
        ("max_daily_loss", 1),
        ("max_daily_loss", 2),
        ("max_daily_loss", 3),
        "locked",
    ], log.read_text()
    # The standing that reflects the lock comes after it, and is the last word.
    assert kinds[-1] == "state"
    assert kinds.index("status") < len(kinds) - 1
    last = l0[-1]
    assert last["state"]["status"] == "locked"
    assert [m["seq"] for m in l0 if m["kind"] == "state"] == list(
        range(1, kinds.count("state") + 1)
    )

    for name in accounts:
        text = redis_client.get(standing_key(redis_prefix, name))
        assert text is not None, f"no standing for {name}: {log.read_text()}"
        standing = AccountSnapshot.model_validate_json(text)
        expected = ("locked", 94_000.0) if name == "L0" else ("active", 99_000.0)
        assert (standing.status, standing.equity) == expected
        assert standing.seq >= 1
    l0_standing = AccountSnapshot.model_validate_json(
        redis_client.get(standing_key(redis_prefix, "L0")) or b""
    )
    assert l0_standing.status_rule == "max_daily_loss"
    assert last["state"] == json.loads(l0_standing.model_dump_json())  # the key's, exactly

    assert topics.status is not None
    (status_message,) = read_topic(kafka, topics.status, at_least=1, quiet=0.5)
    status = StatusEvent.model_validate_json(status_message.value or b"")
    assert (status.account_id, status.status, status.previous) == ("L0", "locked", "active")
    assert status_message.key == b"L0"
    assert "live standing to Redis" in log.read_text()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_two_process_cluster_writes_every_account(
    kafka: KafkaBus,
    topics: Topics,
    kafka_env: dict[str, str],
    redis_url: str,
    redis_client: redis.Redis[bytes],
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    """Each process publishes the accounts its workers hold; together, all of them."""
    accounts = [f"C{number:02d}" for number in range(20)]
    lines = [account(a, ruleset="ftmo-2step") for a in accounts]
    lines += [balance(a, START, 98_000.0) for a in accounts]
    lines += [balance(a, START + timedelta(hours=1), 94_500.0) for a in accounts[:5]]
    publish(kafka.publisher(), topics.events, lines)
    env = {
        **kafka_env,
        "REDIS_URL": redis_url,
        "AETHERIS_REDIS_PREFIX": redis_prefix,
        "AETHERIS_STANDING_INTERVAL_MS": "0",
    }
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    logs = [tmp_path / "p0.log", tmp_path / "p1.log"]
    processes = [
        aetheris(
            ["pipeline", "run", "--until-end", "--no-database", "-i", str(i), "-a", addresses],
            env,
            logs[i],
        )
        for i in range(2)
    ]
    try:
        codes = [process.wait(120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(30)
    texts = "\n\n".join(log.read_text() for log in logs)
    assert codes == [0, 0], texts
    assert all("live standing to Redis" in log.read_text() for log in logs)
    for name in accounts:
        text = redis_client.get(standing_key(redis_prefix, name))
        assert text is not None, f"no standing for {name}: {texts}"
        standing = AccountSnapshot.model_validate_json(text)
        locked = name in accounts[:5]
        assert standing.status == ("locked" if locked else "active")
        assert standing.equity == (94_500.0 if locked else 98_000.0)
    assert topics.status is not None
    statuses = read_topic(kafka, topics.status, at_least=5, quiet=0.5)
    assert sorted(m.key or b"" for m in statuses) == sorted(a.encode() for a in accounts[:5])


def test_the_simulator_hears_a_status_change_on_the_status_topic(
    kafka: KafkaBus, topics: Topics
) -> None:
    assert topics.status is not None
    status_topic = topics.status
    trading = SimulatedDesk(3, seed=5, start=START, tick_interval=timedelta(seconds=1))
    reader = kafka.reader(status_topic, dict.fromkeys(range(PARTITIONS), END))
    failed = StatusEvent(
        status_id="f" * 32,
        account_id="SIM00001",
        status="failed",
        previous="active",
        ts=START,
        rule="max_loss",
        message="failed",
    )

    def announce() -> None:
        time.sleep(1.0)  # once the feed runs and the reader has its end offsets
        publisher = kafka.publisher()
        publisher.publish(status_topic, "SIM00001", event_json(failed).encode())
        publisher.flush()

    announcer = threading.Thread(target=announce)
    announcer.start()
    try:
        report = run_feed(
            trading,
            EventPublisher(kafka.publisher(), topics),
            rate=200.0,
            duration=6.0,
            statuses=reader,
        )
    finally:
        announcer.join()
        reader.close()
    assert report.status_changes == 1, report.line()
    assert not trading.trading("SIM00001")
    assert trading.trading("SIM00000") and trading.trading("SIM00002")


def test_the_pipeline_runs_on_and_publishes_breaches_while_redis_is_unreachable(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    publish(
        kafka.publisher(),
        topics.events,
        [account("R1", ruleset="ftmo-2step"), balance("R1", START, 94_000.0)],
    )
    env = {**kafka_env, "REDIS_URL": f"redis://:sekret@127.0.0.1:{free_port()}/0"}
    log = tmp_path / "pipeline.log"
    process = aetheris(["pipeline", "run", "--until-end", "--no-database"], env, log)
    try:
        assert process.wait(120) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    breaches = read_topic(kafka, topics.breaches, at_least=3, quiet=0.5)
    assert len(breaches) == 3  # the risk output is whole without Redis
    assert topics.status is not None
    assert len(read_topic(kafka, topics.status, at_least=1, quiet=0.5)) == 1
    text = log.read_text()
    assert "the pipeline runs without it" in text
    assert "ConnectionError" in text
    assert "live output stopped with" in text  # what it could not publish, said at the end
    assert "sekret" not in text
