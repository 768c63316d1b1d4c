"""SIGKILL the running pipeline process mid-stream, restart it on the same recovery store:
every breach the pure engine expects appears on the breach topic, and the only duplicates
are identical copies of the same breach id."""

from __future__ import annotations

import itertools
import re
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.simulator import SimulatedDesk, to_event
from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from pipelines.runner import recovery_partitions
from schemas import BreachEvent, event_json
from tests.unit.pipelines.streams import START, breach_days, expected_breaches

from .support import aetheris, publish, read_topic

RATE = 1_500  # events per second: the stream lasts about 12 s


def mixed_stream() -> list[str]:
    """Daily-loss walks of 100 accounts interleaved with a 24-account simulated desk
    (trades and every rule), about 20,000 events."""
    walks = breach_days(accounts=100, days=30)
    desk = SimulatedDesk(24, seed=11, start=START, tick_interval=timedelta(milliseconds=250))
    simulated = [event_json(to_event(r)) for r in itertools.islice(desk.records(), 6_000)]
    mixed: list[str] = []
    walk_lines, simulated_lines = iter(walks), iter(simulated)
    for step in itertools.count():
        taken = next(simulated_lines if step % 3 == 2 else walk_lines, None)
        if taken is None:
            break
        mixed.append(taken)
    mixed.extend(walk_lines)
    mixed.extend(simulated_lines)
    return mixed


def publish_paced(kafka: KafkaBus, topic: str, lines: list[str], done: threading.Event) -> None:
    publisher = kafka.publisher()
    started = time.monotonic()
    for start in range(0, len(lines), 100):
        publish(publisher, topic, lines[start : start + 100])
        pause = started + (start + 100) / RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    done.set()


@pytest.mark.timeout(240)
def test_a_killed_pipeline_resumes_without_losing_a_breach(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    lines = mixed_stream()
    expected = {b.breach_id: b for b in expected_breaches(lines)}
    assert len(expected) > 9_000
    assert {b.rule for b in expected.values()} >= {"max_daily_loss", "tilt", "overtrading"}
    store = tmp_path / "recovery"
    run = ["pipeline", "run", "--recovery-dir", str(store), "--snapshot-interval", "0.5"]
    log = tmp_path / "pipeline.log"

    first = aetheris(run, kafka_env, log)
    published = threading.Event()
    producer = threading.Thread(
        target=publish_paced, args=(kafka, topics.events, lines, published), daemon=True
    )
    try:
        producer.start()
        # Let the first process emit part of the breaches and take a few snapshots.
        seen = 0
        reader = kafka.reader(topics.breaches)
        deadline = time.monotonic() + 90
        while seen < len(expected) // 8 and time.monotonic() < deadline:
            seen += len(reader.read(10_000, 0.2))
            assert first.poll() is None, log.read_text()
        reader.close()
        time.sleep(1.5)  # a few more snapshots (0.5 s epochs)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    before_kill = len(read_topic(kafka, topics.breaches, at_least=seen, quiet=0.5))
    assert before_kill < len(expected), "the first process finished: the kill was not mid-stream"
    assert recovery_partitions(store)

    producer.join(60)
    assert published.is_set()
    second = aetheris([*run, "--until-end"], kafka_env, log)
    try:
        assert second.wait(150) == 0, log.read_text()
    finally:
        if second.poll() is None:
            second.kill()

    out = [
        BreachEvent.model_validate_json(m.value or b"")
        for m in read_topic(kafka, topics.breaches, at_least=len(expected))
    ]
    copies = Counter(b.breach_id for b in out)
    assert set(copies) == set(expected), "lost or unexpected breaches"
    assert all(b == expected[b.breach_id] for b in out), "a duplicate differs from the original"
    duplicates = sum(copies.values()) - len(copies)
    # Resumed from a snapshot, not from the start: every partition from a committed
    # offset, and fewer repeats than a restart from offset 0 (every breach before the kill).
    resumed = [int(offset) for offset in re.findall(r"from offset (\d+)", log.read_text())]
    assert len(resumed) == topics.partitions
    assert 0 < sum(resumed) < len(lines)
    assert duplicates < before_kill
