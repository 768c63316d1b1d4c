"""`aetheris pipeline run` with REDIS_URL: through the real Kafka and the real Redis, a tick
that reaches a level 3 produces the account's standing key, and the breaches, the status
change and the standing on its channel; the status change is on the status topic."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from infra.live import account_channel, standing_key
from schemas import StatusEvent
from schemas.state import AccountSnapshot
from tests.integration.live.fixtures import redis_client, redis_prefix, redis_url
from tests.integration.live.test_redis_live import listen, received
from tests.unit.pipelines.streams import START, account, balance

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
