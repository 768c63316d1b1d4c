"""`aetheris pipeline run` takes its process settings from the environment: the nice value
reaches every thread (the consumer's and producer's included), the round size the source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra.bus import Topics
from infra.bus.kafka import KafkaBus
from schemas import BreachEvent
from tests.unit.pipelines.streams import START, account, balance

from .support import REPO, aetheris, publish, read_topic


def _first_breach(kafka: KafkaBus, topics: Topics, account_id: str) -> str | None:
    """Register ``account_id`` and send it a breaching tick; the first breach's account.
    A breach out means the consumer and the producer (and their threads) are running."""
    publish(
        kafka.publisher(),
        topics.events,
        [account(account_id, ruleset="ftmo-2step"), balance(account_id, START, 94_000.0)],
    )
    out = read_topic(kafka, topics.breaches, at_least=1, quiet=0.2)
    return BreachEvent.model_validate_json(out[0].value or b"").account_id if out else None


def _thread_niceness(pid: int) -> dict[int, int]:
    """Each thread of process ``pid`` and its nice value."""
    tids = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    return {tid: os.getpriority(os.PRIO_PROCESS, tid) for tid in tids}


def test_pipeline_run_applies_its_nice_value_and_round_size(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    # A higher nice value than this process's needs no privilege.
    nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 4)
    env = {**kafka_env, "AETHERIS_PIPELINE_NICE": str(nice), "AETHERIS_PIPELINE_ROUND_SIZE": "7"}
    log = tmp_path / "pipeline.log"
    process = aetheris(["pipeline", "run"], env, log)
    try:
        assert _first_breach(kafka, topics, "N1") == "N1", log.read_text()
        niceness = _thread_niceness(process.pid)
        threads = list(niceness)
        assert process.poll() is None, log.read_text()
    finally:
        process.terminate()
        process.wait(30)
    assert len(threads) > 3  # the worker and librdkafka's threads
    assert set(niceness.values()) == {nice}, niceness
    text = log.read_text()
    assert f"running at nice {nice}" in text
    assert f"reading {topics.events} in rounds of at least 7 messages" in text


def test_without_the_privilege_a_lower_nice_value_is_a_warning_not_a_failure(
    kafka: KafkaBus, topics: Topics, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    # Root holds CAP_SYS_NICE; setpriv drops it, so this process is refused like any user.
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "setpriv (util-linux) is needed to drop CAP_SYS_NICE"
        prefix = [setpriv, "--bounding-set=-sys_nice", "--inh-caps=-sys_nice"]
    start = os.getpriority(os.PRIO_PROCESS, 0)
    log = tmp_path / "pipeline.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "aetheris.cli", "pipeline", "run", "--nice", "-20"],
            cwd=REPO,
            env=kafka_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert _first_breach(kafka, topics, "W1") == "W1", log.read_text()
        niceness = set(_thread_niceness(process.pid).values())
        assert process.poll() is None, log.read_text()
    finally:
        process.terminate()
        process.wait(30)
    assert niceness == {start}
    text = log.read_text()
    assert "cannot set nice -20" in text
    assert "running at the inherited priority" in text
