"""Cluster mode on one machine: two ``aetheris pipeline run`` processes (``-i``/``-a``)
share the partitions and the recovery store; a second run resumes where the first ended."""

from __future__ import annotations

import re
import socket
from collections import Counter
from pathlib import Path

import pytest

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from schemas import BreachEvent
from tests.unit.pipelines.streams import breach_days, expected_breaches

from .support import aetheris, publish, read_topic


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_cluster(env: dict[str, str], store: Path, logs: list[Path], addresses: str) -> list[str]:
    """Run both processes to the end of the topic; return what each logged."""
    processes = [
        aetheris(
            [
                "pipeline",
                "run",
                "--until-end",
                "-i",
                str(index),
                "-a",
                addresses,
                "--recovery-dir",
                str(store),
                "--snapshot-interval",
                "0.5",
            ],
            env,
            logs[index],
        )
        for index in range(2)
    ]
    try:
        codes = [process.wait(120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    texts = [log.read_text() for log in logs]
    assert codes == [0, 0], "\n\n".join(texts)
    return texts


@pytest.mark.timeout(240)
def test_two_processes_share_the_work_and_resume_together(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    lines = breach_days(accounts=40, days=4)
    half = len(lines) // 2
    expected = {b.breach_id: b for b in expected_breaches(lines)}
    store = tmp_path / "recovery"
    logs = [tmp_path / "process-0.log", tmp_path / "process-1.log"]
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    init = aetheris(["pipeline", "init-recovery", str(store), "-p", "2"], kafka_env, logs[0])
    assert init.wait(30) == 0

    publisher = kafka.publisher()
    publish(publisher, topics.events, lines[:half])
    texts = run_cluster(kafka_env, store, logs, addresses)
    first_run = read_topic(kafka, topics.breaches, at_least=1)
    # Each process read some of the four partitions, and together all of them, once.
    owned = [set(re.findall(r"reading \S+\[(\d)\] from the beginning", t)) for t in texts]
    assert all(owned), texts
    assert owned[0].isdisjoint(owned[1])
    assert owned[0] | owned[1] == {"0", "1", "2", "3"}

    publish(publisher, topics.events, lines[half:])
    for log in logs:
        log.write_text("")
    texts = run_cluster(kafka_env, store, logs, addresses)
    # The second run resumed every partition where the first ended: after its first half.
    resumed = [int(offset) for offset in re.findall(r"from offset (\d+)", texts[0] + texts[1])]
    assert len(resumed) == 4
    assert sum(resumed) == half

    out = [
        BreachEvent.model_validate_json(m.value or b"")
        for m in read_topic(kafka, topics.breaches, at_least=len(expected))
    ]
    copies = Counter(b.breach_id for b in out)
    assert set(copies) == set(expected)
    assert all(b == expected[b.breach_id] for b in out)
    # Only breaches still unacknowledged at the first run's last snapshot came out twice.
    assert sum(copies.values()) - len(copies) <= len(first_run)
